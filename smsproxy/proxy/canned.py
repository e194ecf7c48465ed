"""Canned replies: snippets admins keep for the staff composer (`/` offers them).

A reply is a title (what staff type after `/` to find it) and the text it inserts.
Changes are audited by id, without the text.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..errors import NotFound, ProxyError
from ..models import CannedReply
from . import audit

MAX_TITLE_LENGTH = 100
MAX_REPLY_LENGTH = 1000


class InvalidReply(ProxyError):
    status = 422
    code = "invalid_canned_reply"


def check_reply(title: str, body: str) -> tuple[str, str]:
    """The title (trimmed) and text, or an error that says which is wrong and why."""
    title = title.strip()
    if not title:
        raise InvalidReply("Give the reply a title: staff find it by typing /title", field="title")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidReply(
            f"The title is {len(title)} characters long; at most {MAX_TITLE_LENGTH} fit",
            field="title",
        )
    if not body.strip():
        raise InvalidReply("The reply is empty: write the text it inserts", field="body")
    if len(body) > MAX_REPLY_LENGTH:
        raise InvalidReply(
            f"The reply is {len(body)} characters long; at most {MAX_REPLY_LENGTH} fit",
            field="body",
        )
    return title, body


async def list_replies(session: AsyncSession) -> list[CannedReply]:
    """Every reply, by title."""
    query = select(CannedReply).order_by(col(CannedReply.title), col(CannedReply.id))
    return list((await session.exec(query)).all())


async def get_reply(session: AsyncSession, public_id: str) -> CannedReply:
    query = select(CannedReply).where(col(CannedReply.public_id) == public_id)
    reply = (await session.exec(query)).first()
    if reply is None:
        raise NotFound(f"No canned reply with id {public_id!r}")
    return reply


async def add_reply(session: AsyncSession, title: str, body: str, *, actor: str) -> CannedReply:
    title, body = check_reply(title, body)
    reply = CannedReply(title=title, body=body)
    session.add(reply)
    audit.record(session, actor=actor, action="canned_reply.add", target=reply.public_id)
    return reply


async def change_reply(
    session: AsyncSession, public_id: str, title: str, body: str, *, actor: str
) -> CannedReply:
    title, body = check_reply(title, body)
    reply = await get_reply(session, public_id)
    reply.title, reply.body, reply.updated_at = title, body, utcnow()
    session.add(reply)
    audit.record(session, actor=actor, action="canned_reply.change", target=reply.public_id)
    return reply


async def delete_reply(session: AsyncSession, public_id: str, *, actor: str) -> CannedReply:
    reply = await get_reply(session, public_id)
    await session.delete(reply)
    audit.record(session, actor=actor, action="canned_reply.delete", target=reply.public_id)
    return reply

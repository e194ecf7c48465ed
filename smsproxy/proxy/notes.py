"""Private notes: what staff write on a chat for each other, never for its participants.

A note is never sent as SMS and never part of an integration event; the API gives
notes only to those who ask for them (`GET /api/v1/chats/{id}/notes`). Its text is
personal data like a message's (it may quote a number): it is never logged and goes
with the chat's other texts when retention or erasure erases them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import Conflict, NotFound, ProxyError
from ..models import Chat, ChatNote
from . import audit
from .queries import get_chat

MAX_NOTE_LENGTH = 2000


class InvalidNote(ProxyError):
    status = 422
    code = "invalid_note"


def check_note(body: str) -> str:
    if not body.strip():
        raise InvalidNote("The note is empty: write something to keep", field="body")
    if len(body) > MAX_NOTE_LENGTH:
        raise InvalidNote(
            f"The note is {len(body)} characters long; at most {MAX_NOTE_LENGTH} fit",
            field="body",
        )
    return body


async def add_note(
    session: AsyncSession,
    chat_public_id: str,
    body: str,
    *,
    author: str,
    staff_user_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> ChatNote:
    """Keep a note on a chat (active or closed), audited without its text."""
    body = check_note(body)
    found = await get_chat(session, chat_public_id)
    # Locked, so the retention sweep cannot erase the chat's texts between this check
    # and the commit, and leave this note behind.
    chat = (
        await session.exec(
            select(Chat)
            .where(col(Chat.id) == found.chat.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    if chat.bodies_erased_at is not None:
        raise Conflict(
            f"The texts of chat {chat.public_id} were erased (retention): it takes no new notes"
        )
    assert chat.id is not None
    note = ChatNote(
        chat_id=chat.id,
        staff_user_id=staff_user_id,
        author=author,
        body=body,
        created_at=now or utcnow(),
    )
    session.add(note)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="note.add",
        target=chat.public_id,
        detail={"note": note.public_id},
    )
    events.emit(session, events.NoteCreated(note, chat.public_id))
    return note


async def notes_of(
    session: AsyncSession,
    chat: Chat,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ChatNote]:
    """A chat's notes, oldest first; with `since` and `until`, those written at or
    after `since` and before `until` (the span of a page of messages)."""
    query = select(ChatNote).where(col(ChatNote.chat_id) == chat.id)
    if since is not None:
        query = query.where(col(ChatNote.created_at) >= since)
    if until is not None:
        query = query.where(col(ChatNote.created_at) < until)
    query = query.order_by(col(ChatNote.created_at), col(ChatNote.id))
    return list((await session.exec(query)).all())


async def get_note(session: AsyncSession, chat: Chat, note_public_id: str) -> ChatNote:
    query = select(ChatNote).where(
        col(ChatNote.chat_id) == chat.id, col(ChatNote.public_id) == note_public_id
    )
    note = (await session.exec(query)).first()
    if note is None:
        raise NotFound(f"Chat {chat.public_id} has no note {note_public_id!r}")
    return note


async def erase_notes(session: AsyncSession, chat_ids: Sequence[int | None], now: datetime) -> int:
    """Erase the text of these chats' notes (who wrote one, and when, stays)."""
    result = await session.exec(
        update(ChatNote)
        .where(col(ChatNote.chat_id).in_(list(chat_ids)), col(ChatNote.erased_at).is_(None))
        .values(body="", erased_at=now)
    )
    return max(result.rowcount, 0)

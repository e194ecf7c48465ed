"""Reading chats: one with its participants, or a page of them."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import InvalidChat, NotFound
from ..models import Chat, ChatStatus, Participant


@dataclass
class ChatView:
    chat: Chat
    participants: list[Participant] = field(default_factory=list)


async def get_chat(session: AsyncSession, public_id: str) -> ChatView:
    chat = (await session.exec(select(Chat).where(Chat.public_id == public_id))).first()
    if chat is None:
        raise NotFound(f"No chat with id {public_id!r}")
    return ChatView(chat, await participants_of(session, chat))


async def participants_of(session: AsyncSession, chat: Chat) -> list[Participant]:
    query = (
        select(Participant)
        .where(Participant.chat_id == chat.id)
        .order_by(col(Participant.position))
    )
    return list((await session.exec(query)).all())


def encode_cursor(chat_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{chat_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    # Only what encode_cursor makes: a digit string the database can compare with an id
    # (a 70-digit one overflowed the driver and answered 500).
    if not re.fullmatch(r"c[0-9]{1,18}", raw):
        raise InvalidChat("cursor is not one this API returned", field="cursor")
    return int(raw[1:])


async def list_chats(
    session: AsyncSession,
    *,
    status: ChatStatus | None = None,
    reference: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ChatView], str | None]:
    """Newest first; returns the page and the cursor of the next one (None at the end)."""
    query = select(Chat).order_by(col(Chat.id).desc()).limit(limit + 1)
    if status is not None:
        query = query.where(Chat.status == status)
    if reference is not None:
        query = query.where(Chat.reference == reference)
    if cursor:
        query = query.where(col(Chat.id) < decode_cursor(cursor))
    chats = list((await session.exec(query)).all())
    next_cursor = None
    if len(chats) > limit:
        chats = chats[:limit]
        assert chats[-1].id is not None
        next_cursor = encode_cursor(chats[-1].id)
    by_chat: dict[int | None, list[Participant]] = {chat.id: [] for chat in chats}
    if chats:
        rows = await session.exec(
            select(Participant)
            .where(col(Participant.chat_id).in_(list(by_chat)))
            .order_by(col(Participant.position))
        )
        for participant in rows.all():
            by_chat[participant.chat_id].append(participant)
    return [ChatView(chat, by_chat[chat.id]) for chat in chats], next_cursor

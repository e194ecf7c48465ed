"""What staff work through: chats by latest activity, searches and unread counts (the
SMS that reached a number with no chat are in `unrouted`).

Unread counts are per staff member: a `ChatReadMark` remembers the newest message shown
to that person in that chat, and every message written by a participant after it is
unread to them. Staff and system messages never count: nobody needs to answer them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import insert_for, utcnow
from ..errors import InvalidChat
from ..models import AuthorKind, Chat, ChatReadMark, ChatStatus, Message, Participant
from .assignment import usernames
from .chat_filter import ChatFilter, conditions
from .labels import labels_of
from .queries import ChatView

__all__ = ["ChatFilter", "ChatRow", "chat_row", "mark_read", "search_chats", "unread_counts"]

PAGE_SIZE = 25
UNREAD_CAP = 99  # a row shows "99+" past this
RECENT_CHATS = 500  # the total unread count looks at this many most recently active chats


@dataclass
class ChatRow:
    """One line of the chat list."""

    view: ChatView
    last_message: Message | None
    unread: int
    assignee: str | None = None  # a username
    labels: list[str] = field(default_factory=list)

    @property
    def unread_label(self) -> str:
        return f"{UNREAD_CAP}+" if self.unread > UNREAD_CAP else str(self.unread)


def encode_cursor(*parts: object) -> str:
    raw = "|".join(str(part) for part in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidChat("That page link is not valid any more", field="cursor") from None
    parts = raw.split("|")
    if len(parts) != count:
        raise InvalidChat("That page link is not valid any more", field="cursor")
    return parts


def _cursor_of(chat: Chat, sort: str) -> str:
    if sort == "created":
        return encode_cursor(chat.id)
    if sort == "waiting":
        assert chat.awaiting_since is not None
        return encode_cursor(chat.awaiting_since.isoformat(), chat.id)
    return encode_cursor(chat.last_activity_at.isoformat(), chat.id)


def _order(sort: str) -> list[Any]:
    if sort == "created":
        return [col(Chat.id).desc()]
    if sort == "waiting":
        return [col(Chat.awaiting_since).asc(), col(Chat.id).asc()]
    return [col(Chat.last_activity_at).desc(), col(Chat.id).desc()]


def _after(cursor: str, sort: str) -> Any:
    """The rows after the one `cursor` names, in the order of `sort`."""
    if sort == "created":
        (id_raw,) = decode_cursor(cursor, 1)
        return col(Chat.id) < _int(id_raw)
    when_raw, id_raw = decode_cursor(cursor, 2)
    try:
        when = datetime.fromisoformat(when_raw)
    except ValueError:
        raise InvalidChat("That page link is not valid any more", field="cursor") from None
    if when.tzinfo is None:
        raise InvalidChat("That page link is not valid any more", field="cursor")
    chat_id = _int(id_raw)
    if sort == "waiting":
        column = col(Chat.awaiting_since)
        return or_(column > when, and_(column == when, col(Chat.id) > chat_id))
    column = col(Chat.last_activity_at)
    return or_(column < when, and_(column == when, col(Chat.id) < chat_id))


def _int(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidChat("That page link is not valid any more", field="cursor")
    return int(raw)


async def search_chats(
    session: AsyncSession,
    search: ChatFilter,
    *,
    staff_user_id: int,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[ChatRow], str | None]:
    """A page of the chats `search` matches, in its order, and the next page's cursor."""
    query = (
        select(Chat)
        .where(*conditions(search, staff_user_id))
        .order_by(*_order(search.sort))
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(_after(cursor, search.sort))
    chats = list((await session.exec(query)).all())
    next_cursor = None
    if len(chats) > limit:
        chats = chats[:limit]
        next_cursor = _cursor_of(chats[-1], search.sort)
    return await _rows(session, chats, staff_user_id), next_cursor


async def chat_row(
    session: AsyncSession, public_id: str, search: ChatFilter, *, staff_user_id: int
) -> ChatRow | None:
    """The list row of one chat, or None when the chat does not match the filter."""
    query = select(Chat).where(col(Chat.public_id) == public_id, *conditions(search, staff_user_id))
    chat = (await session.exec(query)).first()
    if chat is None:
        return None
    return (await _rows(session, [chat], staff_user_id))[0]


async def _rows(session: AsyncSession, chats: list[Chat], staff_user_id: int) -> list[ChatRow]:
    ids = [chat.id for chat in chats if chat.id is not None]
    if not ids:
        return []
    people: dict[int, list[Participant]] = {chat_id: [] for chat_id in ids}
    found = await session.exec(
        select(Participant)
        .where(col(Participant.chat_id).in_(ids))
        .order_by(col(Participant.position))
    )
    for participant in found.all():
        people[participant.chat_id].append(participant)
    latest = await last_messages(session, ids)
    unread = await unread_counts(session, staff_user_id, ids)
    names = await usernames(session, {c.assignee_id for c in chats if c.assignee_id is not None})
    labels = await labels_of(session, ids)
    return [
        ChatRow(
            ChatView(chat, people[chat.id]),
            latest.get(chat.id),
            unread.get(chat.id, 0),
            names.get(chat.assignee_id) if chat.assignee_id is not None else None,
            labels.get(chat.id, []),
        )
        for chat in chats
        if chat.id is not None
    ]


async def last_messages(session: AsyncSession, chat_ids: list[int]) -> dict[int, Message]:
    newest = (
        select(func.max(Message.id))
        .where(col(Message.chat_id).in_(chat_ids))
        .group_by(col(Message.chat_id))
    )
    rows = await session.exec(select(Message).where(col(Message.id).in_(newest)))
    return {message.chat_id: message for message in rows.all() if message.chat_id is not None}


async def unread_counts(
    session: AsyncSession, staff_user_id: int, chat_ids: list[int]
) -> dict[int, int]:
    """Messages from participants after this person's read mark, per chat, counted up
    to UNREAD_CAP + 1 (shown as "99+").

    One index range per chat (chat, id after the mark), so the cost follows what is
    unread, not the chat's whole history; the cap bounds a busy chat nobody read.
    """
    branches = []
    for chat_id in chat_ids:
        mark = (
            select(ChatReadMark.last_message_id)
            .where(
                col(ChatReadMark.staff_user_id) == staff_user_id,
                col(ChatReadMark.chat_id) == chat_id,
            )
            .scalar_subquery()
        )
        unread = (
            select(Message.id)
            .where(
                col(Message.chat_id) == chat_id,
                col(Message.author_kind) == AuthorKind.participant,
                col(Message.id) > func.coalesce(mark, 0),
            )
            .limit(UNREAD_CAP + 1)
            .subquery()
        )
        branches.append(select(literal(chat_id), func.count()).select_from(unread))
    if not branches:
        return {}
    rows = (await session.exec(union_all(*branches))).all()  # type: ignore[call-overload]
    return {int(chat_id): int(count) for chat_id, count in rows if count}


async def mark_read(
    session: AsyncSession, chat: Chat, staff_user_id: int, last_message_id: int
) -> None:
    """Record that this person has seen the chat up to `last_message_id`. Marks only
    move forward: an older page reporting late never makes read messages unread.

    When that clears messages that were unread to them, their other tabs hear it
    (chat.read) and drop the badge; reading a chat with nothing new says nothing.
    """
    if last_message_id <= 0 or chat.id is None:
        return
    unread = (await unread_counts(session, staff_user_id, [chat.id])).get(chat.id, 0)
    table = ChatReadMark.__table__  # type: ignore[attr-defined]
    now = utcnow()
    statement = (
        insert_for(session)(table)
        .values(
            staff_user_id=staff_user_id,
            chat_id=chat.id,
            last_message_id=last_message_id,
            read_at=now,
        )
        .on_conflict_do_update(
            index_elements=[table.c.staff_user_id, table.c.chat_id],
            set_={"last_message_id": last_message_id, "read_at": now},
            where=table.c.last_message_id < last_message_id,
        )
        .returning(table.c.last_message_id)
    )
    moved = (await session.exec(statement)).first() is not None
    if moved and unread:
        events.emit(session, events.ChatRead(chat.public_id, staff_user_id))


async def newest_message_id(
    session: AsyncSession, chat_id: int, up_to_public_id: str | None = None
) -> int:
    """The internal id of a chat's newest message, or of the named one when it is in
    the chat (what a page has actually shown). 0 when there is none."""
    query = select(func.max(Message.id)).where(col(Message.chat_id) == chat_id)
    if up_to_public_id is not None:
        query = query.where(col(Message.public_id) == up_to_public_id)
    return int((await session.exec(query)).one() or 0)


async def total_unread(session: AsyncSession, staff_user_id: int) -> int:
    """Participants' messages unread to this person in the RECENT_CHATS most recently
    active chats that are open, counted up to UNREAD_CAP + 1: the number in the tab
    title and beside "Chats" on every page, so it must stay cheap.

    A new text moves its chat to the front, so what just arrived is always counted; a
    text left unread while hundreds of other chats were busier drops out of this count
    (the list's own badge still shows it). Closed chats need no answer any more.
    """
    recent = (
        select(Chat.id)
        .where(col(Chat.status) == ChatStatus.active)
        .order_by(col(Chat.last_activity_at).desc())
        .limit(RECENT_CHATS)
        .subquery()
    )
    mark = and_(
        col(ChatReadMark.chat_id) == Message.chat_id,
        col(ChatReadMark.staff_user_id) == staff_user_id,
    )
    unread = (
        select(Message.id)
        .select_from(recent)
        .join(Message, col(Message.chat_id) == recent.c.id)
        .outerjoin(ChatReadMark, mark)
        .where(
            col(Message.author_kind) == AuthorKind.participant,
            col(Message.id) > func.coalesce(ChatReadMark.last_message_id, 0),
        )
        .limit(UNREAD_CAP + 1)
        .subquery()
    )
    return int((await session.exec(select(func.count()).select_from(unread))).one())

"""Chats as files: a chat's whole transcript, and every chat a list filter matches,
read a batch at a time so that a long chat or a large list never sits in memory whole.

Real numbers are masked in every row; texts are as written (staff read them so).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import AuthorKind, Chat, Delivery, Message, Participant
from ..phone import mask
from .chat_filter import ChatFilter, conditions
from .queries import ChatView
from .transcripts import TranscriptEntry, entries_for, staff_names

BATCH = 500
MASK_CACHE = 20_000
TRANSCRIPT_COLUMNS = (
    "time",
    "message_id",
    "direction",
    "from",
    "to",
    "body",
    "screening",
    "deliveries",
)
CHAT_COLUMNS = (
    "chat_id",
    "status",
    "reference",
    "created_at",
    "last_activity_at",
    "closed_at",
    "close_reason",
    "participants",
)


def stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def who(participant: Participant, masked: Callable[[str], str] = mask) -> str:
    """A participant as an export names them: their name and masked number."""
    return f"{participant.display_name} ({masked(participant.real_number)})"


async def transcript_batches(
    session: AsyncSession, view: ChatView, batch: int = BATCH
) -> AsyncIterator[tuple[list[TranscriptEntry], dict[int, str]]]:
    """Every message of the chat, oldest first, a batch at a time, with the names of
    the staff who wrote them: keyset pages on (created_at, id)."""
    after: tuple[datetime, int] | None = None
    while True:
        query = select(Message).where(col(Message.chat_id) == view.chat.id)
        if after is not None:
            when, last_id = after
            query = query.where(
                # The first condition is implied by the second; it is there so that the
                # database reads an index range instead of every row before it.
                col(Message.created_at) >= when,
                or_(
                    col(Message.created_at) > when,
                    and_(col(Message.created_at) == when, col(Message.id) > last_id),
                ),
            )
        query = query.order_by(col(Message.created_at), col(Message.id)).limit(batch)
        messages = list((await session.exec(query)).all())
        if messages:
            yield await entries_for(session, view, messages), await staff_names(session, messages)
        if len(messages) < batch:
            return
        last = messages[-1]
        assert last.id is not None
        after = (last.created_at, last.id)


def _recipient(delivery: Delivery, people: dict[int | None, Participant]) -> str:
    person = people.get(delivery.participant_id)
    return who(person) if person is not None else mask(delivery.to_number)


def transcript_row(
    entry: TranscriptEntry, people: dict[int | None, Participant], names: dict[int, str]
) -> list[str]:
    """One message as a CSV row (TRANSCRIPT_COLUMNS)."""
    message = entry.message
    if entry.author is not None:
        sender = who(entry.author)
    elif message.author_kind == AuthorKind.staff:
        sender = f"Staff ({names.get(message.staff_user_id or 0, 'unknown')})"
    else:
        sender = str(message.author_kind).capitalize()
    recipients = list(dict.fromkeys(_recipient(d, people) for d in entry.deliveries))
    states = [
        f"{_recipient(d, people)}: {d.status}" + (f" ({d.error})" if d.error else "")
        for d in entry.deliveries
    ]
    return [
        stamp(message.created_at),
        message.public_id,
        "in" if message.author_kind == AuthorKind.participant else "out",
        sender,
        "; ".join(recipients),
        message.body,
        message.screening or "",
        "; ".join(states),
    ]


async def transcript_rows(session: AsyncSession, view: ChatView) -> AsyncIterator[list[str]]:
    people: dict[int | None, Participant] = {p.id: p for p in view.participants}
    async for entries, names in transcript_batches(session, view):
        for entry in entries:
            yield transcript_row(entry, people, names)


async def count_chats(session: AsyncSession, search: ChatFilter, staff_user_id: int) -> int:
    query = select(func.count()).select_from(Chat).where(*conditions(search, staff_user_id))
    return int((await session.exec(query)).one())


async def chat_rows(
    session: AsyncSession, search: ChatFilter, staff_user_id: int, batch: int = BATCH
) -> AsyncIterator[list[str]]:
    """Every chat the filter matches (as `staff_user_id` sees it: "Mine" is theirs),
    latest activity first, as
    CSV rows (CHAT_COLUMNS): keyset pages, each with its participants in one query."""
    # Masking parses the number (most of an export's time): people who are in many
    # chats, as drivers are, are parsed once per export.
    masked = lru_cache(maxsize=MASK_CACHE)(mask)
    after: tuple[datetime, int] | None = None
    while True:
        query = select(Chat).where(*conditions(search, staff_user_id))
        if after is not None:
            when, last_id = after
            query = query.where(
                col(Chat.last_activity_at) <= when,  # an index range, as above
                or_(
                    col(Chat.last_activity_at) < when,
                    and_(col(Chat.last_activity_at) == when, col(Chat.id) < last_id),
                ),
            )
        query = query.order_by(col(Chat.last_activity_at).desc(), col(Chat.id).desc())
        chats = list((await session.exec(query.limit(batch))).all())
        people = await _participants(session, [chat.id for chat in chats if chat.id is not None])
        for chat in chats:
            yield _chat_row(chat, people.get(chat.id or 0, []), masked)
        if len(chats) < batch:
            return
        last = chats[-1]
        assert last.id is not None
        after = (last.last_activity_at, last.id)


async def _participants(session: AsyncSession, chat_ids: list[int]) -> dict[int, list[Participant]]:
    found: dict[int, list[Participant]] = {}
    if not chat_ids:
        return found
    query = (
        select(Participant)
        .where(col(Participant.chat_id).in_(chat_ids))
        .order_by(col(Participant.chat_id), col(Participant.position))
    )
    for participant in (await session.exec(query)).all():
        found.setdefault(participant.chat_id, []).append(participant)
    return found


def _chat_row(chat: Chat, people: list[Participant], masked: Callable[[str], str]) -> list[str]:
    return [
        chat.public_id,
        str(chat.status),
        chat.reference or "",
        stamp(chat.created_at),
        stamp(chat.last_activity_at),
        stamp(chat.closed_at),
        chat.close_reason or "",
        "; ".join(f"{who(p, masked)} via {p.proxy_number}" for p in people),
    ]

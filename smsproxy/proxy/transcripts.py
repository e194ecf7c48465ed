"""A chat's transcript as staff read it: the newest messages with the state of every
SMS each one caused, and who on the staff wrote what."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import NotFound
from ..models import ChatNote, Delivery, Message, Participant, StaffUser
from .notes import notes_of
from .queries import ChatView

TRANSCRIPT_SIZE = 200
K = TypeVar("K", bound=Hashable)


@dataclass
class TranscriptEntry:
    message: Message
    author: Participant | None
    deliveries: list[Delivery]

    def sent_texts(self) -> list[tuple[str, list[Delivery]]]:
        """What the SMS actually said, each text with the deliveries that carried it, in
        order. An intro names the others, so each person's differs from the message's
        own text; in a group, forwards start with the author's name."""
        return _grouped(self.deliveries, lambda d: d.body)

    def delivery_groups(self) -> list[list[Delivery]]:
        """Deliveries in the same state (and with the same error), together: a group
        chat's message shows one "Delivered" for everyone, not one row per person."""
        return [
            group for _, group in _grouped(self.deliveries, lambda d: (d.status, delivery_note(d)))
        ]


def delivery_note(delivery: Delivery) -> str:
    """What a delivery row says under its state: the error, and how many sends the
    carrier never answered (the recipient may have the SMS more than once). The chat
    page's script writes the same words (static/js/deliveries.js `deliveryNote`)."""
    parts = [delivery.error] if delivery.error else []
    unanswered = delivery.ambiguous_attempts
    if unanswered:
        times = f"{unanswered} time{'s' if unanswered > 1 else ''}"
        parts.append(
            f"Sent {times} without an answer from the carrier: the recipient may have it "
            "more than once."
        )
    return " ".join(parts)


def _grouped(
    deliveries: list[Delivery], key: Callable[[Delivery], K]
) -> list[tuple[K, list[Delivery]]]:
    groups: dict[K, list[Delivery]] = {}
    for delivery in deliveries:
        groups.setdefault(key(delivery), []).append(delivery)
    return list(groups.items())


async def transcript(
    session: AsyncSession, view: ChatView, limit: int = 500
) -> list[TranscriptEntry]:
    messages = list(
        (
            await session.exec(
                select(Message)
                .where(Message.chat_id == view.chat.id)
                .order_by(col(Message.created_at), col(Message.id))
                .limit(limit)
            )
        ).all()
    )
    return await entries_for(session, view, messages)


async def entries_for(
    session: AsyncSession, view: ChatView, messages: list[Message]
) -> list[TranscriptEntry]:
    """Messages with their authors and the SMS each caused, in one extra query."""
    deliveries: dict[int | None, list[Delivery]] = {m.id: [] for m in messages}
    if messages:
        rows = await session.exec(
            select(Delivery)
            .where(col(Delivery.message_id).in_(list(deliveries)))
            .order_by(col(Delivery.id))
        )
        for delivery in rows.all():
            deliveries[delivery.message_id].append(delivery)
    people = {p.id: p for p in view.participants}
    return [TranscriptEntry(m, people.get(m.participant_id), deliveries[m.id]) for m in messages]


async def recent_transcript(
    session: AsyncSession,
    view: ChatView,
    limit: int = TRANSCRIPT_SIZE,
    *,
    before: str | None = None,
) -> tuple[list[TranscriptEntry], bool]:
    """The newest `limit` messages of a chat, oldest first, and whether older ones exist.

    With `before` (a message's public id), the `limit` messages just before that one:
    a keyset page on (created_at, id), so messages arriving meanwhile never shift it.
    """
    query = select(Message).where(col(Message.chat_id) == view.chat.id)
    if before is not None:
        anchor = await _message_of(session, view, before)
        query = query.where(
            or_(
                col(Message.created_at) < anchor.created_at,
                and_(
                    col(Message.created_at) == anchor.created_at,
                    col(Message.id) < anchor.id,
                ),
            )
        )
    query = query.order_by(col(Message.created_at).desc(), col(Message.id).desc())
    messages = list((await session.exec(query.limit(limit + 1))).all())
    has_older = len(messages) > limit
    messages = messages[:limit]
    messages.reverse()
    return await entries_for(session, view, messages), has_older


async def transcript_around(
    session: AsyncSession, view: ChatView, public_id: str, limit: int = TRANSCRIPT_SIZE
) -> tuple[list[TranscriptEntry], bool, bool]:
    """Up to `limit` messages around one (a search hit), oldest first: about half after
    it, the rest up to and including it. Returns them, and whether older and newer ones
    exist beyond them."""
    anchor = await _message_of(session, view, public_id)
    after = or_(
        col(Message.created_at) > anchor.created_at,
        and_(col(Message.created_at) == anchor.created_at, col(Message.id) > anchor.id),
    )
    in_chat = col(Message.chat_id) == view.chat.id
    half = limit // 2
    newer = list(
        (
            await session.exec(
                select(Message)
                .where(in_chat, after)
                .order_by(col(Message.created_at), col(Message.id))
                .limit(half + 1)
            )
        ).all()
    )
    has_newer = len(newer) > half
    newer = newer[:half]
    older = list(
        (
            await session.exec(
                select(Message)
                .where(in_chat, ~after)
                .order_by(col(Message.created_at).desc(), col(Message.id).desc())
                .limit(limit - len(newer) + 1)
            )
        ).all()
    )
    has_older = len(older) > limit - len(newer)
    messages = list(reversed(older[: limit - len(newer)])) + newer
    return await entries_for(session, view, messages), has_older, has_newer


async def _message_of(session: AsyncSession, view: ChatView, public_id: str) -> Message:
    query = select(Message).where(
        col(Message.chat_id) == view.chat.id, col(Message.public_id) == public_id
    )
    message = (await session.exec(query)).first()
    if message is None:
        raise NotFound(f"Chat {view.chat.public_id} has no message {public_id!r}")
    return message


async def transcript_entry(
    session: AsyncSession, view: ChatView, message_public_id: str
) -> TranscriptEntry:
    message = await _message_of(session, view, message_public_id)
    return (await entries_for(session, view, [message]))[0]


async def staff_names(session: AsyncSession, messages: list[Message]) -> dict[int, str]:
    """Usernames of the staff who wrote these messages."""
    ids = {m.staff_user_id for m in messages if m.staff_user_id is not None}
    if not ids:
        return {}
    rows = await session.exec(
        select(StaffUser.id, StaffUser.username).where(col(StaffUser.id).in_(ids))
    )
    return {int(user_id): name for user_id, name in rows.all() if user_id is not None}


@dataclass
class NoteEntry:
    """A private note among the messages of a transcript (`chats/_note.html`)."""

    note: ChatNote

    @property
    def created_at(self) -> datetime:
        return self.note.created_at


async def with_notes(
    session: AsyncSession,
    view: ChatView,
    entries: list[TranscriptEntry],
    has_older: bool,
    before: str | None,
    has_newer: bool = False,
) -> list[TranscriptEntry | NoteEntry]:
    """A page of messages with the notes written in its span, in time order: from its
    oldest message (from the start, on the first page) to the message it stops before
    (to now, on the latest), so each note is on exactly one page. A page around a
    search hit (`has_newer`, no `before`) stops at its newest message."""
    since = entries[0].message.created_at if entries and has_older else None
    if before:
        until: datetime | None = (await _message_of(session, view, before)).created_at
    elif has_newer and entries:
        until = entries[-1].message.created_at
    else:
        until = None
    found = await notes_of(session, view.chat, since=since, until=until)
    merged: list[TranscriptEntry | NoteEntry] = [*entries, *(NoteEntry(n) for n in found)]
    # Stable: a note written in the same instant as a message comes after it.
    merged.sort(key=_time_of)
    return merged


def _time_of(item: TranscriptEntry | NoteEntry) -> datetime:
    return item.created_at if isinstance(item, NoteEntry) else item.message.created_at

"""Live events: recorded in the transaction that caused them, published after commit.

Each event is an `EventRecord` row, so its id is durable and increasing: a browser that
reconnects asks for everything after the last id it saw. Publishing goes through a
broker: in memory for one process, Redis pub/sub across processes (see `smsproxy.bus`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .models import EventRecord

CHAT_CREATED = "chat.created"
CHAT_CLOSED = "chat.closed"
MESSAGE_CREATED = "message.created"
DELIVERY_UPDATED = "delivery.updated"
NUMBER_CHANGED = "number.changed"
# A staff member's sessions ended (new password, account disabled): their open live
# sockets, in every process, close. Data: {"user_id": N}.
STAFF_SESSIONS_ENDED = "staff.sessions_ended"
EVENT_NAMES = (
    CHAT_CREATED,
    CHAT_CLOSED,
    MESSAGE_CREATED,
    DELIVERY_UPDATED,
    NUMBER_CHANGED,
    STAFF_SESSIONS_ENDED,
)

PENDING_KEY = "smsproxy.pending_events"


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    chat_id: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "chat_id": self.chat_id, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        return cls(int(raw["id"]), str(raw["name"]), raw.get("chat_id"), dict(raw["data"]))

    @classmethod
    def from_record(cls, record: EventRecord) -> Event:
        assert record.id is not None
        return cls(record.id, record.name, record.chat_public_id, dict(record.payload))


async def emit(
    session: AsyncSession, name: str, chat_id: str | None, data: dict[str, Any]
) -> EventRecord:
    """Record an event in the current transaction; it is published after commit.

    The row is written just before commit (`write_pending`), so its id is known once
    the transaction has committed. `data` must never hold a full real phone number:
    events reach browsers.
    """
    assert name in EVENT_NAMES, name
    record = EventRecord(name=name, chat_public_id=chat_id, payload=data)
    session.info.setdefault(PENDING_KEY, []).append(record)
    return record


# Any constant: the key of the advisory lock that orders event ids on PostgreSQL.
EVENT_ORDER_LOCK = 0x5350_4556


async def write_pending(session: AsyncSession) -> None:
    """Insert this transaction's events, as the last step before commit.

    Pages resume from the last event id they saw, so ids must become visible in
    increasing order. PostgreSQL hands out sequence values at insert time, and two
    transactions could commit out of that order and hide an event from a resuming page
    for good. A transaction-scoped advisory lock taken right here, held only for the
    insert and the commit, makes ids follow commit order. SQLite already serialises
    writers.
    """
    records: list[EventRecord] = session.info.get(PENDING_KEY, [])
    if not records:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ORDER_LOCK}
        )
    session.add_all(records)
    await session.flush()


def take_pending(session: AsyncSession) -> list[Event]:
    records: list[EventRecord] = session.info.pop(PENDING_KEY, [])
    return [Event.from_record(record) for record in records]


async def events_since(
    session: AsyncSession, after_id: int, chat_id: str | None = None, limit: int = 500
) -> list[Event]:
    """What a reconnecting subscriber missed. For one chat: that chat's events, plus the
    chat-less ones; for the list (chat_id None): everything."""
    query = select(EventRecord).where(col(EventRecord.id) > after_id)
    if chat_id is not None:
        query = query.where(
            or_(
                col(EventRecord.chat_public_id) == chat_id,
                col(EventRecord.chat_public_id).is_(None),
            )
        )
    query = query.order_by(col(EventRecord.id)).limit(limit)
    return [Event.from_record(record) for record in (await session.exec(query)).all()]


async def last_event_id(session: AsyncSession) -> int:
    query = select(EventRecord.id).order_by(col(EventRecord.id).desc()).limit(1)
    return (await session.exec(query)).first() or 0


class Broker(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, events: list[Event]) -> None: ...
    def subscribe(self) -> AsyncIterator[Event]: ...


class MemoryBroker:
    """One process: a set of queues, one per subscriber (the Quart chat example's shape)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._queue_size = queue_size

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.end_subscriptions()

    def end_subscriptions(self) -> None:
        """End every current subscription. Subscribers read that as "you may have missed
        events" and catch up from the event log (RedisBroker does this after a reconnect)."""
        for queue in list(self._queues):
            # Discarded first, so deliver() never fills the slot kept for the end marker.
            self._queues.discard(queue)
            queue.put_nowait(None)

    async def publish(self, events: list[Event]) -> None:
        self.deliver(events)

    def deliver(self, events: list[Event]) -> None:
        for queue in list(self._queues):
            for event in events:
                if queue.qsize() >= self._queue_size:
                    # A subscriber that cannot keep up is cut off (the spare slot holds
                    # the end marker); it reconnects and catches up from the event log.
                    self._queues.discard(queue)
                    queue.put_nowait(None)
                    break
                queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self._queue_size + 1)
        self._queues.add(queue)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._queues.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._queues)

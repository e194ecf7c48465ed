"""The event log: events are recorded in the transaction that caused them and published
after it commits.

Each event is an `EventRecord` row, so its id is durable and increasing: a browser that
reconnects asks for everything after the last id it saw. Publishing goes through a
broker (`broker`): in memory for one process, Redis pub/sub across processes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import EventRecord
from .broker import Event
from .catalog import EVENT_NAMES, DomainEvent
from .integration import keep

PENDING_KEY = "smsproxy.pending_events"


def emit(session: AsyncSession, event: DomainEvent) -> EventRecord:
    """Record a domain event in the current transaction; it is published after commit,
    and, when it is one integrations hear of, queued for their endpoints with it."""
    keep(session, event)
    return record(session, event.name, event.chat_id, event.payload())


def record(
    session: AsyncSession, name: str, chat_id: str | None, data: dict[str, Any]
) -> EventRecord:
    """Record an event by name (`emit` builds the name and data from a domain event).

    The row is written just before commit (`write_pending`), so its id is known once
    the transaction has committed.
    """
    assert name in EVENT_NAMES, name
    entry = EventRecord(name=name, chat_public_id=chat_id, payload=data)
    session.info.setdefault(PENDING_KEY, []).append(entry)
    return entry


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
    # Everything else this unit of work changed is written first: with the lock held,
    # a row another transaction has locked (a chat it is changing, waiting in turn for
    # this lock) would deadlock the two.
    await session.flush()
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ORDER_LOCK}
        )
    elif len(records) > 1:
        # SQLite cannot insert many rows and say which id each got in one statement, so
        # the ORM would insert a batch's events one by one. This transaction holds the
        # write lock: the next ids are ours to hand out, and one statement inserts all.
        last = (await connection.execute(text("SELECT max(id) FROM eventrecord"))).scalar()
        for offset, entry in enumerate(records, start=1):
            entry.id = (last or 0) + offset
    session.add_all(records)
    await session.flush()


def take_pending(session: AsyncSession) -> list[Event]:
    records: list[EventRecord] = session.info.pop(PENDING_KEY, [])
    return [Event.from_record(record) for record in records]


async def events_since(
    session: AsyncSession,
    after_id: int,
    chat_id: str | None = None,
    limit: int = 500,
    *,
    also: Collection[str] = (),
) -> list[Event]:
    """What a reconnecting subscriber missed. For one chat: that chat's events, the
    chat-less ones, and other chats' events named in `also`; for the list (chat_id
    None): everything."""
    query = select(EventRecord).where(col(EventRecord.id) > after_id)
    if chat_id is not None:
        query = query.where(
            or_(
                col(EventRecord.chat_public_id) == chat_id,
                col(EventRecord.chat_public_id).is_(None),
                col(EventRecord.name).in_(list(also)),
            )
        )
    query = query.order_by(col(EventRecord.id)).limit(limit)
    return [Event.from_record(record) for record in (await session.exec(query)).all()]


async def last_event_id(session: AsyncSession) -> int:
    query = select(EventRecord.id).order_by(col(EventRecord.id).desc()).limit(1)
    return (await session.exec(query)).first() or 0

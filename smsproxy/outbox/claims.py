"""Claiming due rows: a claim is a lease.

A claimed row turns `sending` until `lease_until`. A process that dies mid-send leaves
the row `sending`, and once the lease runs out any process claims it again, so nothing
committed to the outbox is lost (an SMS may, rarely, go twice; one is never dropped).
Several processes share the table safely: PostgreSQL claims with FOR UPDATE SKIP
LOCKED, and SQLite serialises writers with BEGIN IMMEDIATE.

Every query here names a status and a time range, which the (status, next_attempt_at)
index answers from the few rows still waiting, never from the whole table. A claim
holds the write lock (SQLite) for just its own rows; failing rows that waited too long
(`expire_stale`) finds them with a read first, and is done now and then, not per claim.

A claim also honours opt-outs: a due row whose recipient opted out since it was queued
(STOP to any proxy number) is marked suppressed instead of leased, in the same query,
so nothing queued before a STOP slips out. Keyword replies (the STOP confirmation
itself) are the exception.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import Database, utcnow
from ..models import (
    CarrierMessage,
    Chat,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    OptOut,
    Participant,
)
from .enqueue import OPTED_OUT, suppressed
from .receipts import settle

log = logging.getLogger(__name__)

EXPIRE_BATCH = 100  # rows past SEND_MAX_AGE_SECONDS marked failed per transaction

# A row with the public ids of its chat, message and recipient, which its events name,
# and whether its recipient has opted out.
Claimed = tuple[Delivery, str | None, str | None, str | None, bool]


def _rows() -> Any:
    opted_out = exists().where(col(OptOut.number) == col(Delivery.to_number))
    # SQLAlchemy's select: sqlmodel's types stop at four columns.
    return sa_select(
        Delivery,
        col(Chat.public_id),
        col(Message.public_id),
        col(Participant.public_id),
        opted_out.label("opted_out"),
    )


def _with_public_ids(query: Any) -> Any:
    """Each row with the public ids its events name."""
    return (
        query.outerjoin(Chat, col(Chat.id) == Delivery.chat_id)
        .outerjoin(Message, col(Message.id) == Delivery.message_id)
        .outerjoin(Participant, col(Participant.id) == Delivery.participant_id)
    )


def _updated(
    row: Delivery, chat_id: str | None, message_id: str | None, participant_id: str | None
) -> events.DeliveryUpdated:
    return events.DeliveryUpdated(row, chat_id, message_id, participant_id)


def _queued_due(now: datetime) -> Any:
    return _rows().where(
        col(Delivery.status) == DeliveryStatus.queued, col(Delivery.next_attempt_at) <= now
    )


def _lease_lost(now: datetime) -> Any:
    return _rows().where(
        col(Delivery.status) == DeliveryStatus.sending,
        or_(col(Delivery.lease_until) < now, col(Delivery.lease_until).is_(None)),
    )


async def claim_due(
    db: Database,
    limit: int,
    now: datetime | None = None,
    *,
    lease_seconds: float = 60,
    max_age_seconds: int | None = None,
) -> list[Delivery]:
    """Lease up to `limit` due rows to this caller, in one short transaction: rows
    whose lease ran out first (their send was cut off), then queued rows, oldest due
    first. With `max_age_seconds`, rows queued longer ago than that are left for
    `expire_stale` (after an outage, a text hours late does more harm than good)."""
    now = now or utcnow()
    async with db.transaction() as session:
        found = await _lock_due(session, _lease_lost(now), limit, now, max_age_seconds)
        if found:
            found = await _unless_reported(session, found, now)
        if len(found) < limit:
            queued = _queued_due(now).order_by(col(Delivery.next_attempt_at))
            found += await _lock_due(session, queued, limit - len(found), now, max_age_seconds)
        until = now + timedelta(seconds=lease_seconds)
        leased: list[Delivery] = []
        for row, chat_id, message_id, participant_id, opted_out in found:
            if opted_out and row.kind != DeliveryKind.keyword_reply:
                _suppress(row, now)
                events.emit(session, _updated(row, chat_id, message_id, participant_id))
                continue
            fresh = row.status == DeliveryStatus.queued
            if not fresh:
                # Its sender died or hung mid-send: the SMS may have gone out.
                row.ambiguous_attempts += 1
            row.status = DeliveryStatus.sending
            row.lease_until = until
            row.attempts += 1
            row.updated_at = now
            leased.append(row)
            if fresh:
                events.emit(session, _updated(row, chat_id, message_id, participant_id))
    return leased


def _suppress(row: Delivery, now: datetime) -> None:
    suppressed(row, OPTED_OUT)
    row.lease_until = None
    row.updated_at = now
    log.info("delivery %s suppressed at claim: the recipient opted out", row.public_id)


async def _lock_due(
    session: AsyncSession, query: Any, limit: int, now: datetime, max_age_seconds: int | None
) -> list[Claimed]:
    if max_age_seconds is not None:
        query = query.where(col(Delivery.created_at) > now - timedelta(seconds=max_age_seconds))
    query = _with_public_ids(query).limit(limit).with_for_update(skip_locked=True, of=Delivery)
    return [_claimed(row) for row in (await session.exec(query)).all()]


def _claimed(row: Any) -> Claimed:
    return (row[0], row[1], row[2], row[3], bool(row[4]))


async def _unless_reported(
    session: AsyncSession, found: list[Claimed], now: datetime
) -> list[Claimed]:
    """Of rows whose sender died mid-send, those the carrier has reported on (a receipt
    came, matched by client-ref) did go out: they are marked sent, not claimed."""
    ids = [claimed[0].id for claimed in found]
    links = select(CarrierMessage.delivery_id, CarrierMessage.carrier_message_id).where(
        col(CarrierMessage.delivery_id).in_(ids)
    )
    reported: dict[int, list[str]] = {}
    for delivery_id, carrier_message_id in (await session.exec(links)).all():
        reported.setdefault(delivery_id, []).append(carrier_message_id)
    if not reported:
        return found
    left = []
    for claimed in found:
        row, chat_id, message_id, participant_id, _ = claimed
        assert row.id is not None
        if row.id not in reported:
            left.append(claimed)
            continue
        row.status = DeliveryStatus.sent
        row.carrier_message_ids = reported[row.id]
        row.sent_at = row.updated_at = now
        row.lease_until = None
        events.emit(session, _updated(row, chat_id, message_id, participant_id))
        await settle(session, row, now)  # what the receipts said: delivered, failed ...
        log.info("delivery %s: its cut-off send went out (a receipt came)", row.public_id)
    return left


async def expire_stale(db: Database, max_age_seconds: int, now: datetime | None = None) -> int:
    """Mark failed, unsent, every due row queued longer than `max_age_seconds` ago;
    returns how many. A read finds them (usually none) without taking the write lock."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=max_age_seconds)
    async with db.read() as session:
        stale = await session.exec(_stale_ids(now, cutoff).limit(1))
        if stale.first() is None:
            return 0
    failed = 0
    while True:
        async with db.transaction() as session:
            found = await session.exec(_stale_ids(now, cutoff).limit(EXPIRE_BATCH))
            ids = [row[0] for row in found.all()]
            rows = await _lock_stale(session, ids, now, cutoff)
            _fail(session, rows, now, max_age_seconds)
        failed += len(rows)
        if len(ids) < EXPIRE_BATCH:
            break
    if failed:
        log.info("%d queued SMS older than %d s marked failed, unsent", failed, max_age_seconds)
    return failed


def _stale_ids(now: datetime, cutoff: datetime) -> Any:
    queued = select(Delivery.id).where(
        col(Delivery.status) == DeliveryStatus.queued,
        col(Delivery.next_attempt_at) <= now,
        col(Delivery.created_at) <= cutoff,
    )
    leased = select(Delivery.id).where(
        col(Delivery.status) == DeliveryStatus.sending,
        or_(col(Delivery.lease_until) < now, col(Delivery.lease_until).is_(None)),
        col(Delivery.created_at) <= cutoff,
    )
    return queued.union_all(leased)


async def _lock_stale(
    session: AsyncSession, ids: list[int], now: datetime, cutoff: datetime
) -> list[Claimed]:
    if not ids:
        return []
    # Checked again under the lock: a row may have been claimed or settled meanwhile.
    query = (
        _rows()
        .where(col(Delivery.id).in_(ids), col(Delivery.created_at) <= cutoff)
        .where(
            or_(
                (col(Delivery.status) == DeliveryStatus.queued)
                & (col(Delivery.next_attempt_at) <= now),
                (col(Delivery.status) == DeliveryStatus.sending)
                & or_(col(Delivery.lease_until) < now, col(Delivery.lease_until).is_(None)),
            )
        )
    )
    query = _with_public_ids(query).with_for_update(skip_locked=True, of=Delivery)
    return [_claimed(row) for row in (await session.exec(query)).all()]


def _fail(
    session: AsyncSession,
    rows: list[Claimed],
    now: datetime,
    max_age_seconds: int,
) -> None:
    reason = f"Not sent within {_span(max_age_seconds)}: an SMS is not sent so late"
    for row, chat_id, message_id, participant_id, _ in rows:
        last = f" (last attempt: {row.error})" if row.error else ""
        row.error = (reason + last)[:500]
        row.status = DeliveryStatus.failed
        row.lease_until = None
        row.updated_at = now
        events.emit(session, _updated(row, chat_id, message_id, participant_id))


def _span(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


async def seconds_until_due(db: Database) -> float | None:
    """When the next queued or leased row comes due; None when the outbox is idle.
    Both minimums come from the (status, next_attempt_at) index, in one query."""
    retry = (
        select(func.min(Delivery.next_attempt_at))
        .where(col(Delivery.status) == DeliveryStatus.queued)
        .scalar_subquery()
    )
    lease = (
        select(func.min(Delivery.lease_until))
        .where(col(Delivery.status) == DeliveryStatus.sending)
        .scalar_subquery()
    )
    async with db.read() as session:
        row = (await session.exec(select(retry, lease))).one()
    found: list[datetime] = [value for value in row if value is not None]
    if not found:
        return None
    return max(0.0, (min(found) - utcnow()).total_seconds())

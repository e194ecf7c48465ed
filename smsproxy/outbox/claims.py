"""Claiming due rows: a claim is a lease.

A claimed row turns `sending` until `lease_until`. A process that dies mid-send leaves
the row `sending`, and once the lease runs out any process claims it again, so nothing
committed to the outbox is lost (an SMS may, rarely, go twice; one is never dropped).
Several processes share the table safely: PostgreSQL claims with FOR UPDATE SKIP
LOCKED, and SQLite serialises writers with BEGIN IMMEDIATE.

A claim also honours opt-outs: a due row whose recipient opted out since it was queued
(STOP to any proxy number) is marked suppressed instead of leased, in the same query,
so nothing queued before a STOP slips out. Keyword replies (the STOP confirmation
itself) are the exception.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import Database, utcnow
from ..models import Delivery, DeliveryKind, DeliveryStatus, OptOut
from .enqueue import OPTED_OUT, emit_update, suppressed

log = logging.getLogger(__name__)

EXPIRE_BATCH = 100  # rows past SEND_MAX_AGE_SECONDS marked failed per claim


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(col(Delivery.status) == DeliveryStatus.queued, col(Delivery.next_attempt_at) <= now),
        and_(
            col(Delivery.status) == DeliveryStatus.sending,
            or_(col(Delivery.lease_until) < now, col(Delivery.lease_until).is_(None)),
        ),
    )


async def claim_due(
    db: Database,
    limit: int,
    now: datetime | None = None,
    *,
    lease_seconds: float = 60,
    max_age_seconds: int | None = None,
) -> list[Delivery]:
    """Lease up to `limit` due rows to this caller, in one short transaction.

    With `max_age_seconds`, due rows queued longer ago than that are marked failed
    instead (after an outage, a text hours late does more harm than good).
    """
    now = now or utcnow()
    due = _due(now)
    if max_age_seconds is not None:
        due = and_(due, col(Delivery.created_at) > now - timedelta(seconds=max_age_seconds))
    opted_out = exists().where(col(OptOut.number) == col(Delivery.to_number))
    query = (
        select(Delivery, opted_out.label("opted_out"))
        .where(due)
        .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    rows: list[Delivery] = []
    async with db.transaction() as session:
        if max_age_seconds is not None:
            await _fail_too_old(session, now, max_age_seconds)
        for row, recipient_opted_out in (await session.exec(query)).all():
            if recipient_opted_out and row.kind != DeliveryKind.keyword_reply:
                await _suppress(session, row, now)
                continue
            rows.append(row)
            fresh = row.status == DeliveryStatus.queued
            row.status = DeliveryStatus.sending
            row.lease_until = now + timedelta(seconds=lease_seconds)
            row.attempts += 1
            row.updated_at = now
            if fresh:
                await emit_update(session, row)
    return rows


async def _suppress(session: AsyncSession, row: Delivery, now: datetime) -> None:
    suppressed(row, OPTED_OUT)
    row.lease_until = None
    row.updated_at = now
    await emit_update(session, row)
    log.info("delivery %s suppressed at claim: the recipient opted out", row.public_id)


async def _fail_too_old(session: AsyncSession, now: datetime, max_age_seconds: int) -> None:
    query = (
        select(Delivery)
        .where(_due(now), col(Delivery.created_at) <= now - timedelta(seconds=max_age_seconds))
        .order_by(col(Delivery.id))
        .limit(EXPIRE_BATCH)
        .with_for_update(skip_locked=True)
    )
    rows = list((await session.exec(query)).all())
    reason = f"Not sent within {_span(max_age_seconds)}: an SMS is not sent so late"
    for row in rows:
        last = f" (last attempt: {row.error})" if row.error else ""
        row.error = (reason + last)[:500]
        row.status = DeliveryStatus.failed
        row.lease_until = None
        row.updated_at = now
        await emit_update(session, row)
    if rows:
        log.info("%d queued SMS older than %d s marked failed, unsent", len(rows), max_age_seconds)


def _span(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


async def seconds_until_due(db: Database) -> float | None:
    """When the next queued or leased row comes due; None when the outbox is idle."""
    async with db.read() as session:
        retry = select(func.min(Delivery.next_attempt_at)).where(
            col(Delivery.status) == DeliveryStatus.queued
        )
        lease = select(func.min(Delivery.lease_until)).where(
            col(Delivery.status) == DeliveryStatus.sending
        )
        times = [(await session.exec(query)).first() for query in (retry, lease)]
    found = [value for value in times if value is not None]
    if not found:
        return None
    return max(0.0, (min(found) - utcnow()).total_seconds())

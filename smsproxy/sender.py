"""The sender worker: claims due outbox rows, sends them, records what happened.

A claim is a lease: the row turns `sending` until `lease_until`. A process that dies
mid-send leaves the row `sending`, and once the lease runs out any process claims it
again, so nothing committed to the outbox is lost (an SMS may, rarely, go twice; one
is never dropped). Several processes share the table safely: PostgreSQL claims with
FOR UPDATE SKIP LOCKED, and SQLite serialises writers with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from . import outbox
from .carrier import CarrierError, OutboundSms, SendResult, TransientCarrierError
from .db import Database, is_unavailable, utcnow
from .models import CarrierMessage, Delivery, DeliveryStatus
from .proxy.receipts import settle
from .ratelimit import Limiter, TokenBucket, make_limiter

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
POLL_SECONDS = 1.0  # picks up rows other processes queued, and retries coming due
EXPIRE_BATCH = 100  # rows past SEND_MAX_AGE_SECONDS marked failed per claim


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number `attempts`: full jitter over an exponential ceiling,
    so many rows throttled together do not come back together."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return rng() * ceiling


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
    query = (
        select(Delivery)
        .where(due)
        .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with db.transaction() as session:
        if max_age_seconds is not None:
            await _fail_too_old(session, now, max_age_seconds)
        rows = list((await session.exec(query)).all())
        for row in rows:
            fresh = row.status == DeliveryStatus.queued
            row.status = DeliveryStatus.sending
            row.lease_until = now + timedelta(seconds=lease_seconds)
            row.attempts += 1
            row.updated_at = now
            if fresh:
                await outbox.emit_update(session, row)
    return rows


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
        await outbox.emit_update(session, row)
    if rows:
        log.info("%d queued SMS older than %d s marked failed, unsent", len(rows), max_age_seconds)


def _span(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


async def process(
    runtime: Runtime, delivery: Delivery, limiter: Limiter | None = None
) -> DeliveryStatus:
    """Send one claimed row and record the outcome; returns the row's new status."""
    if limiter is not None:
        await limiter.acquire()
    sms = OutboundSms(
        delivery_id=delivery.public_id,
        from_number=delivery.from_number,
        to_number=delivery.to_number,
        text=delivery.body,
    )
    try:
        result = await runtime.carrier.send(sms)
    except CarrierError as error:
        return await record_failure(runtime, delivery, error)
    except Exception as error:
        # A bug, not the carrier: keep the row and retry it rather than lose it.
        log.exception("sending delivery %s failed unexpectedly", delivery.public_id)
        failure = TransientCarrierError(f"Internal error while sending ({type(error).__name__})")
        return await record_failure(runtime, delivery, failure)
    return await record_sent(runtime, delivery, result)


async def record_sent(runtime: Runtime, claimed: Delivery, result: SendResult) -> DeliveryStatus:
    async with runtime.db.transaction() as session:
        row = await _locked(session, claimed)
        if row is None:
            return DeliveryStatus.sent
        assert row.id is not None
        now = utcnow()
        new_ids = [mid for mid in result.message_ids if mid not in row.carrier_message_ids]
        row.carrier_message_ids = [*row.carrier_message_ids, *new_ids]
        for message_id in new_ids:
            if await session.get(CarrierMessage, message_id) is None:
                session.add(CarrierMessage(carrier_message_id=message_id, delivery_id=row.id))
        row.updated_at = now
        # Only forward: a receipt may already have said delivered or failed.
        if row.status in (DeliveryStatus.queued, DeliveryStatus.sending):
            row.status = DeliveryStatus.sent
            row.sent_at = now
            row.lease_until = None
            row.error = row.error_code = None
            await outbox.emit_update(session, row)
        await settle(session, row, now)  # receipts that beat this record
        status = DeliveryStatus(row.status)
    log.info("delivery %s sent in %d part(s)", claimed.public_id, len(result.message_ids))
    return status


async def record_failure(
    runtime: Runtime, claimed: Delivery, error: CarrierError
) -> DeliveryStatus:
    settings = runtime.settings
    async with runtime.db.transaction() as session:
        row = await _locked(session, claimed)
        if row is None:
            return DeliveryStatus.failed
        if row.status != DeliveryStatus.sending or row.attempts != claimed.attempts:
            # Our lease ran out and another worker owns the row now: its outcome counts.
            return DeliveryStatus(row.status)
        now = utcnow()
        row.lease_until = None
        row.updated_at = now
        row.error_code = str(error.code)[:32] if error.code else None
        too_old = now - row.created_at >= timedelta(seconds=settings.send_max_age_seconds)
        if error.transient and not too_old:
            delay = backoff(row.attempts)
            row.status = DeliveryStatus.queued
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.error = error.message[:500]
            log.info(
                "delivery %s: transient failure (code %s) on attempt %d, retry in %.1f s",
                row.public_id,
                row.error_code,
                row.attempts,
                delay,
            )
        else:
            row.status = DeliveryStatus.failed
            row.error = (
                f"Gave up after {row.attempts} attempt(s): {error.message}"
                if error.transient
                else error.message
            )[:500]
            log.info("delivery %s failed (code %s)", row.public_id, row.error_code)
        await outbox.emit_update(session, row)
        return DeliveryStatus(row.status)


async def _locked(session: AsyncSession, claimed: Delivery) -> Delivery | None:
    query = select(Delivery).where(col(Delivery.id) == claimed.id).with_for_update()
    return (await session.exec(query)).first()


async def run_round(
    runtime: Runtime,
    limiter: Limiter | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> int:
    """Claim what is due (as of `now`) and send it all; returns how many rows it sent."""
    settings = runtime.settings
    rows = await claim_due(
        runtime.db,
        limit or settings.send_concurrency,
        now,
        lease_seconds=settings.send_lease_seconds,
        max_age_seconds=settings.send_max_age_seconds,
    )
    if rows:
        await asyncio.gather(*(process(runtime, row, limiter) for row in rows))
    return len(rows)


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


async def drain(runtime: Runtime, timeout: float = 30.0) -> int:  # noqa: ASYNC109
    """Send until the outbox is idle, waiting for retries that come due within `timeout`.

    Returns how many sends were made. Rows whose next attempt is later stay queued.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    limiter = TokenBucket(runtime.settings.send_rate_per_second)
    total = 0
    while True:
        sent = await run_round(runtime, limiter)
        total += sent
        if sent:
            continue
        wait = await seconds_until_due(runtime.db)
        if wait is None or loop.time() + wait > deadline:
            return total
        await asyncio.sleep(max(wait, 0.01))


async def run_sender(runtime: Runtime) -> None:
    """The background loop: at most SEND_CONCURRENCY sends in flight, at the set rate."""
    settings = runtime.settings
    limiter = make_limiter(settings)
    capacity = settings.send_concurrency
    in_flight: set[asyncio.Task[None]] = set()
    try:
        while True:
            runtime.outbox_wakeup.clear()
            free = capacity - len(in_flight)
            claimed = 0
            if free > 0:
                try:
                    rows = await claim_due(
                        runtime.db,
                        free,
                        lease_seconds=settings.send_lease_seconds,
                        max_age_seconds=settings.send_max_age_seconds,
                    )
                except Exception as error:
                    _log_claim_failure(error)
                    rows = []
                for row in rows:
                    task = asyncio.create_task(_send_logged(runtime, row, limiter))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                claimed = len(rows)
            if in_flight and claimed == free:
                # Every slot is busy and more may be due: claim again when one frees up.
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runtime.outbox_wakeup.wait(), POLL_SECONDS)
    finally:
        await _finish(in_flight, grace=min(15.0, settings.vonage_timeout_seconds + 1))
        await limiter.aclose()


async def _send_logged(runtime: Runtime, row: Delivery, limiter: Limiter) -> None:
    try:
        await process(runtime, row, limiter)
    except Exception:
        # Most likely the database went away while recording: the row stays `sending`
        # and is claimed again when its lease runs out.
        log.exception("recording the outcome of delivery %s failed", row.public_id)


async def _finish(in_flight: set[asyncio.Task[None]], grace: float) -> None:
    """On shutdown, let sends already under way record their outcome; a send cut off
    leaves its row `sending`, to be claimed again after the lease."""
    if not in_flight:
        return
    done, pending = await asyncio.wait(set(in_flight), timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1)
    log.info("sender stopped: %d send(s) finished, %d cut off", len(done), len(pending))


def _log_claim_failure(error: Exception) -> None:
    if is_unavailable(error):
        log.warning("sender cannot reach the database (%s); trying again", type(error).__name__)
    else:
        log.exception("claiming outbox rows failed")

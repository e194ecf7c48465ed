"""Recording what the carrier said about a claimed row: sent (with the carrier's ids
for each part), or failed, to be retried with backoff or given up on."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..carrier import CarrierError, SendResult
from ..db import Database, utcnow
from ..models import CarrierMessage, Delivery, DeliveryStatus
from .enqueue import emit_update
from .receipts import settle

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number `attempts`: full jitter over an exponential ceiling,
    so many rows throttled together do not come back together."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    return rng() * ceiling


async def record_sent(db: Database, claimed: Delivery, result: SendResult) -> DeliveryStatus:
    async with db.transaction() as session:
        row = await _locked(session, claimed)
        if row is None:
            return DeliveryStatus.sent
        assert row.id is not None
        now = utcnow()
        new_ids = [mid for mid in result.message_ids if mid not in row.carrier_message_ids]
        row.carrier_message_ids = [*row.carrier_message_ids, *new_ids]
        for message_id in new_ids:
            if await session.get(CarrierMessage, message_id) is None:
                session.add(
                    CarrierMessage(
                        carrier_message_id=message_id,
                        delivery_id=row.id,
                        whole_message=result.whole_message,
                    )
                )
        row.updated_at = now
        # Only forward: a receipt may already have said delivered or failed.
        if row.status in (DeliveryStatus.queued, DeliveryStatus.sending):
            row.status = DeliveryStatus.sent
            row.sent_at = now
            row.lease_until = None
            row.error = row.error_code = None
            await emit_update(session, row)
        await settle(session, row, now)  # receipts that beat this record
        status = DeliveryStatus(row.status)
    log.info("delivery %s sent in %d part(s)", claimed.public_id, len(result.message_ids))
    return status


async def record_failure(
    db: Database, claimed: Delivery, error: CarrierError, *, max_age_seconds: int
) -> DeliveryStatus:
    async with db.transaction() as session:
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
        too_old = now - row.created_at >= timedelta(seconds=max_age_seconds)
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
        await emit_update(session, row)
        return DeliveryStatus(row.status)


async def _locked(session: AsyncSession, claimed: Delivery) -> Delivery | None:
    query = select(Delivery).where(col(Delivery.id) == claimed.id).with_for_update()
    return (await session.exec(query)).first()

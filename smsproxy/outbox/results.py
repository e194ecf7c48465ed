"""Recording what the carrier said about a claimed row: sent (with the carrier's ids
for each part), or failed, to be retried with backoff or given up on.

Both take the caller's session, so the sender can record the results of several sends
in one transaction (a group commit), each in a savepoint of its own.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..carrier import CarrierError, SendResult
from ..db import insert_for, utcnow
from ..models import CarrierMessage, Chat, Delivery, DeliveryStatus, Message, Participant
from .receipts import settle

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# A send that got no answer may have gone out. Its retry waits long enough for the
# carrier's delivery receipt, which would show that it did (and cancel the retry).
AMBIGUOUS_BASE_SECONDS = 60.0
AMBIGUOUS_CAP_SECONDS = 900.0


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number `attempts`: full jitter over an exponential ceiling,
    so many rows throttled together do not come back together."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    return rng() * ceiling


def ambiguous_backoff(ambiguous: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before sending again an SMS whose `ambiguous`-th send got no answer:
    between half and all of an exponential ceiling (60 s, 120 s ... 15 min), never
    at once, and spread so that rows that timed out together go out apart."""
    ceiling = min(AMBIGUOUS_CAP_SECONDS, AMBIGUOUS_BASE_SECONDS * 2.0 ** max(0, ambiguous - 1))
    return ceiling * (0.5 + 0.5 * rng())


async def record_sent(
    session: AsyncSession, claimed: Delivery, result: SendResult, now: datetime | None = None
) -> DeliveryStatus:
    locked = await _locked(session, claimed)
    if locked is None:
        return DeliveryStatus.sent
    row, chat_public_id, message_public_id, participant_public_id = locked
    assert row.id is not None
    now = now or utcnow()
    new_ids = [mid for mid in result.message_ids if mid not in row.carrier_message_ids]
    row.carrier_message_ids = [*row.carrier_message_ids, *new_ids]
    early = await _link_parts(session, row.id, new_ids, result.whole_message)
    row.updated_at = now
    # Only forward: a receipt may already have said delivered or failed.
    if row.status in (DeliveryStatus.queued, DeliveryStatus.sending):
        row.status = DeliveryStatus.sent
        row.sent_at = now
        row.lease_until = None
        row.error = row.error_code = None
        events.emit(
            session,
            events.DeliveryUpdated(row, chat_public_id, message_public_id, participant_public_id),
        )
    earlier = early or row.ambiguous_attempts or len(row.carrier_message_ids) > len(new_ids)
    if earlier or result.whole_message:
        # Receipts that beat this record: for these parts, or for an earlier send; or,
        # for an SMS that went whole (Messages API), SMS API receipts for its parts.
        await settle(session, row, now)
    log.debug("delivery %s sent in %d part(s)", claimed.public_id, len(result.message_ids))
    return DeliveryStatus(row.status)


async def _link_parts(
    session: AsyncSession, delivery_id: int, message_ids: list[str], whole_message: bool
) -> bool:
    """Map each part's carrier message id (one id for a whole message, from the Messages
    API) to the Delivery; True when a receipt had already recorded one of them (matched
    by client-ref)."""
    if not message_ids:
        return False
    table = CarrierMessage.__table__  # type: ignore[attr-defined]
    statement = (
        insert_for(session)(table)
        .values(
            [
                {
                    "carrier_message_id": mid,
                    "delivery_id": delivery_id,
                    "whole_message": whole_message,
                }
                for mid in message_ids
            ]
        )
        .on_conflict_do_nothing(index_elements=[table.c.carrier_message_id])
        .returning(table.c.carrier_message_id)
    )
    inserted = (await session.exec(statement)).all()
    return len(inserted) < len(message_ids)


async def record_failure(
    session: AsyncSession,
    claimed: Delivery,
    error: CarrierError,
    *,
    max_age_seconds: int,
    now: datetime | None = None,
) -> DeliveryStatus:
    locked = await _locked(session, claimed)
    if locked is None:
        return DeliveryStatus.failed
    row, chat_public_id, message_public_id, participant_public_id = locked
    if row.status != DeliveryStatus.sending or row.attempts != claimed.attempts:
        # Our lease ran out and another worker owns the row now (or a receipt settled
        # it): its outcome counts.
        return DeliveryStatus(row.status)
    now = now or utcnow()
    row.lease_until = None
    row.updated_at = now
    row.error_code = str(error.code)[:32] if error.code else None
    if error.ambiguous:
        row.ambiguous_attempts += 1
    too_old = now - row.created_at >= timedelta(seconds=max_age_seconds)
    if error.transient and not too_old:
        if error.ambiguous:
            delay = ambiguous_backoff(row.ambiguous_attempts)
        else:
            delay = backoff(row.attempts)
        row.status = DeliveryStatus.queued
        row.next_attempt_at = now + timedelta(seconds=delay)
        row.error = error.message[:500]
        log.info(
            "delivery %s: %s failure (code %s) on attempt %d, retry in %.1f s",
            row.public_id,
            "ambiguous" if error.ambiguous else "transient",
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
    events.emit(
        session,
        events.DeliveryUpdated(row, chat_public_id, message_public_id, participant_public_id),
    )
    return DeliveryStatus(row.status)


async def hand_back(session: AsyncSession, claimed: Delivery) -> DeliveryStatus:
    """Give up a claim before sending (its lease is too short for a send now): the row
    is due again at once, for this process or another, and was not sent."""
    locked = await _locked(session, claimed)
    if locked is None:
        return DeliveryStatus.failed
    row, chat_public_id, message_public_id, participant_public_id = locked
    if row.status != DeliveryStatus.sending or row.attempts != claimed.attempts:
        return DeliveryStatus(row.status)
    now = utcnow()
    row.status = DeliveryStatus.queued
    row.attempts -= 1  # claimed, never tried
    row.lease_until = None
    row.next_attempt_at = row.updated_at = now
    events.emit(
        session,
        events.DeliveryUpdated(row, chat_public_id, message_public_id, participant_public_id),
    )
    log.info("delivery %s handed back unsent: its lease ran short while it waited", row.public_id)
    return DeliveryStatus.queued


async def _locked(
    session: AsyncSession, claimed: Delivery
) -> tuple[Delivery, str | None, str | None, str | None] | None:
    """The claimed row, locked, with the public ids of its chat, message and recipient,
    which its events name."""
    query = (
        select(Delivery, Chat.public_id, Message.public_id, Participant.public_id)
        .outerjoin(Chat, col(Chat.id) == Delivery.chat_id)
        .outerjoin(Message, col(Message.id) == Delivery.message_id)
        .outerjoin(Participant, col(Participant.id) == Delivery.participant_id)
        .where(col(Delivery.id) == claimed.id)
        .with_for_update(of=Delivery)
    )
    found = (await session.exec(query)).first()
    return None if found is None else (found[0], found[1], found[2], found[3])

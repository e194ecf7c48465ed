"""Delivery receipts: the carrier's word on each SMS part, folded into its Delivery.

A long SMS is billed and reported as several parts, each with its own carrier message
id (CarrierMessage rows, written by the sender). A Delivery is delivered when every
part is, and failed (rejected, expired) as soon as any part is. Receipts arrive in any
order and sometimes more than once; a final word is never taken back.

A receipt can also beat the sender's own record of the carrier's answer. The carrier
echoes our Delivery's public id as client-ref, so such a receipt is still matched: its
part is recorded then. Until the sender has recorded how many parts there were, a
failed part fails the Delivery but a delivered one cannot complete it; settle() folds
the early receipts in once the sender knows the parts.

Vonage reports in two formats, and an SMS sent through one API may be reported in the
other's while an account switches (the account's "Messaging API type" decides the
format of every webhook). The SMS API reports each part under its own message-id; the
Messages API reports the whole SMS once under its message_uuid (CarrierMessage.
whole_message). Both carry our client-ref, which is what matches a receipt whose id
the sender never saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..carrier import Receipt, normalise_status
from ..carrier.gsm7 import segments
from ..db import utcnow
from ..models import (
    FINAL_DELIVERY_STATUSES,
    CarrierMessage,
    Delivery,
    DeliveryStatus,
)
from .enqueue import emit_update
from .failures import describe_failure

log = logging.getLogger(__name__)

FAILED_PART = ("failed", "rejected", "expired")  # in this order of precedence
FINAL_PART = frozenset({"delivered", *FAILED_PART})


# Vonage (SMS API): status "failed" or "rejected" with err-code 9 means the handset's
# user asked not to receive messages from the sending number (Opt-Out Assist).
OPT_OUT_ERROR_CODE = "9"


def reports_opt_out(receipt: Receipt) -> bool:
    """Whether the carrier blocked the SMS because its recipient opted out."""
    status = normalise_status(receipt.status)
    return status in ("failed", "rejected") and receipt.error_code == OPT_OUT_ERROR_CODE


@dataclass
class ReceiptOutcome:
    found: bool  # the carrier message id is one of ours
    delivery: Delivery | None = None
    changed: bool = False  # the Delivery's status moved


async def apply_receipt(
    session: AsyncSession, receipt: Receipt, now: datetime | None = None
) -> ReceiptOutcome:
    """Record a receipt for one part and update its Delivery's status."""
    now = now or utcnow()
    delivery = await _locked_delivery(session, receipt)
    if delivery is None:
        log.info(
            "receipt (%s) for carrier message %s, which is not one of ours",
            receipt.status,
            receipt.carrier_message_id,
        )
        return ReceiptOutcome(found=False)
    parts = list(
        (
            await session.exec(
                select(CarrierMessage)
                .where(CarrierMessage.delivery_id == delivery.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    part = next(p for p in parts if p.carrier_message_id == receipt.carrier_message_id)
    _record_part(session, part, receipt, now)
    went_out = _went_out_after_all(delivery, part, now)
    changed = await _fold(session, delivery, parts, now)
    if went_out and not changed:
        await emit_update(session, delivery)
    return ReceiptOutcome(found=True, delivery=delivery, changed=changed or went_out)


def _went_out_after_all(delivery: Delivery, part: CarrierMessage, now: datetime) -> bool:
    """A receipt for an SMS waiting to be sent again after a send that got no answer
    (or whose sender died mid-send): that send did go out. Mark it sent, so that it is
    not sent a second time. True if the Delivery changed."""
    waiting_retry = delivery.status == DeliveryStatus.queued and delivery.ambiguous_attempts
    lease = delivery.lease_until
    lease_lost = delivery.status == DeliveryStatus.sending and (lease is None or lease < now)
    if not (waiting_retry or lease_lost):
        return False
    delivery.status = DeliveryStatus.sent
    delivery.sent_at = now
    delivery.updated_at = now
    delivery.lease_until = None
    delivery.error = delivery.error_code = None
    delivery.carrier_message_ids = [*delivery.carrier_message_ids, part.carrier_message_id]
    log.info(
        "delivery %s: a receipt shows its unanswered send went out; not sending it again",
        delivery.public_id,
    )
    return True


async def _locked_delivery(session: AsyncSession, receipt: Receipt) -> Delivery | None:
    """The Delivery the receipt's part belongs to, locked; None when it is not ours."""
    link = await session.get(CarrierMessage, receipt.carrier_message_id)
    if link is None:
        return await _delivery_by_reference(session, receipt)
    # The Delivery row's lock orders concurrent receipts for its parts: each sees the
    # parts the others recorded, so the last one to arrive can say "all delivered".
    query = select(Delivery).where(col(Delivery.id) == link.delivery_id).with_for_update()
    return (await session.exec(query)).one()


def _record_part(
    session: AsyncSession, part: CarrierMessage, receipt: Receipt, now: datetime
) -> None:
    """A part's status moves once to a final word, never back."""
    status = normalise_status(receipt.status)
    if part.status in FINAL_PART:
        if status != part.status:
            log.info(
                "receipt %s for part %s ignored: it was already %s",
                status,
                part.carrier_message_id,
                part.status,
            )
        return
    part.status = status
    part.error_code = receipt.error_code if receipt.error_code not in (None, "", "0") else None
    part.error_text = receipt.error_text[:300] if receipt.error_text else None
    part.updated_at = now
    session.add(part)


async def settle(session: AsyncSession, delivery: Delivery, now: datetime | None = None) -> bool:
    """Fold the receipts that came before the sender recorded the parts into the
    Delivery (whose row the caller holds locked). True if its status moved."""
    parts = list(
        (
            await session.exec(
                select(CarrierMessage).where(CarrierMessage.delivery_id == delivery.id)
            )
        ).all()
    )
    return await _fold(session, delivery, parts, now or utcnow())


async def _delivery_by_reference(session: AsyncSession, receipt: Receipt) -> Delivery | None:
    """The Delivery named by the receipt's client-ref, with the receipt's carrier message
    recorded under it, for an id the sender has not recorded: the receipt came before
    the sender's record, or in the other API's format (whose ids are its own: the SMS
    API's per part, the Messages API's for the whole SMS)."""
    if not receipt.client_ref:
        return None
    # Locked before the part is written: the sender's record_sent takes the same lock
    # before it looks for the part, so it sees this row rather than inserting its own.
    query = select(Delivery).where(Delivery.public_id == receipt.client_ref).with_for_update()
    delivery = (await session.exec(query)).first()
    if delivery is None:
        return None
    assert delivery.id is not None
    link = await session.get(CarrierMessage, receipt.carrier_message_id)
    if link is None:
        try:
            async with session.begin_nested():
                session.add(
                    CarrierMessage(
                        carrier_message_id=receipt.carrier_message_id,
                        delivery_id=delivery.id,
                        whole_message=receipt.whole_message,
                    )
                )
                await session.flush()
        except IntegrityError:
            pass  # written meanwhile; the select below reads it
        link = await session.get(CarrierMessage, receipt.carrier_message_id)
    if link is None or link.delivery_id != delivery.id:
        log.warning(
            "receipt for carrier message %s names delivery %s, which does not own it",
            receipt.carrier_message_id,
            delivery.public_id,
        )
        return None
    log.info(
        "receipt for carrier message %s matched by client-ref to delivery %s (%s)",
        receipt.carrier_message_id,
        delivery.public_id,
        "another format, or an earlier attempt"
        if delivery.carrier_message_ids
        else "before the send was recorded",
    )
    return delivery


async def _fold(
    session: AsyncSession, delivery: Delivery, parts: list[CarrierMessage], now: datetime
) -> bool:
    new_status, decided_by = aggregate(delivery, parts)
    if (
        new_status is None
        or delivery.status in FINAL_DELIVERY_STATUSES
        or new_status == delivery.status
    ):
        return False
    delivery.status = new_status
    delivery.updated_at = now
    if new_status == DeliveryStatus.delivered:
        delivery.error = delivery.error_code = None
    else:
        pieces = sum(not part.whole_message for part in parts)
        delivery.error_code = decided_by.error_code if decided_by else None
        delivery.error = describe_failure(new_status, decided_by, pieces)
    delivery.lease_until = None
    session.add(delivery)
    await session.flush()
    await emit_update(session, delivery)
    # Failures are worth a line at INFO; the many deliveries are not.
    level = logging.DEBUG if new_status == DeliveryStatus.delivered else logging.INFO
    log.log(level, "delivery %s is now %s", delivery.public_id, new_status)
    return True


def aggregate(
    delivery: Delivery, parts: list[CarrierMessage]
) -> tuple[DeliveryStatus | None, CarrierMessage | None]:
    """The Delivery's status from its carrier messages' (and the one whose failure
    decided it), or None while they have not settled it.

    A failure anywhere fails the SMS. A whole-message receipt saying delivered delivers
    it. Part receipts deliver it once every part has said so: the parts the sender
    recorded, or, for an SMS the sender recorded whole (the Messages API) but whose
    receipts came part by part (SMS API delivery receipts: the account still on the SMS
    API), as many parts as its text takes.
    """
    for failure in FAILED_PART:
        for part in parts:
            if part.status == failure:
                return DeliveryStatus(failure), part
    if any(part.whole_message and part.status == "delivered" for part in parts):
        return DeliveryStatus.delivered, None
    pieces = [part for part in parts if not part.whole_message]
    recorded = set(delivery.carrier_message_ids)
    if not pieces or not recorded:
        # Only the sender's record says how many parts there are; settle() decides.
        return None, None
    delivered = [part for part in pieces if part.status == "delivered"]
    if any(part.whole_message and part.carrier_message_id in recorded for part in parts):
        if len(delivered) >= segments(delivery.body):
            return DeliveryStatus.delivered, None
        return None, None
    if len(delivered) == len(pieces):
        return DeliveryStatus.delivered, None
    return None, None

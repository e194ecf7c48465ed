"""The outbox: every SMS to send is a Delivery row written in its cause's transaction."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from . import events
from .models import Delivery, DeliveryKind, DeliveryStatus
from .proxy.phone import mask

WAKE_KEY = "smsproxy.wake_outbox"


async def enqueue(
    session: AsyncSession,
    *,
    kind: DeliveryKind,
    from_number: str,
    to_number: str,
    body: str,
    chat_id: int | None = None,
    chat_public_id: str | None = None,
    message_id: int | None = None,
    participant_id: int | None = None,
    message_public_id: str | None = None,
) -> Delivery:
    """Queue one SMS; the sender worker is woken as soon as the transaction commits."""
    delivery = Delivery(
        kind=kind,
        from_number=from_number,
        to_number=to_number,
        body=body,
        chat_id=chat_id,
        message_id=message_id,
        participant_id=participant_id,
    )
    session.add(delivery)
    await session.flush()
    session.info[WAKE_KEY] = True
    await events.emit(
        session,
        events.DELIVERY_UPDATED,
        chat_public_id,
        delivery_event_data(delivery, message_public_id),
    )
    return delivery


def delivery_event_data(delivery: Delivery, message_public_id: str | None) -> dict[str, object]:
    return {
        "delivery_id": delivery.public_id,
        "message_id": message_public_id,
        "kind": delivery.kind,
        "to": mask(delivery.to_number),
        "from": delivery.from_number,
        "status": delivery.status,
        "error": delivery.error,
        "error_code": delivery.error_code,
    }


def suppressed(delivery: Delivery, reason: str) -> None:
    delivery.status = DeliveryStatus.suppressed
    delivery.error = reason

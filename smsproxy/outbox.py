"""The outbox: every SMS to send is a Delivery row written in its cause's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from . import events
from .models import Chat, Delivery, DeliveryKind, DeliveryStatus, Message
from .phone import mask

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
    await enqueue_many(
        session, [delivery], chat_public_id=chat_public_id, message_public_id=message_public_id
    )
    return delivery


async def enqueue_many(
    session: AsyncSession,
    deliveries: Sequence[Delivery],
    *,
    chat_public_id: str | None,
    message_public_id: str | None,
) -> None:
    """Write the deliveries one message causes in one flush, and their live events.

    Rows already marked suppressed are kept for the transcript but never sent; the
    sender worker is woken after commit when any of the others is queued.
    """
    session.add_all(deliveries)
    await session.flush()
    if any(delivery.status == DeliveryStatus.queued for delivery in deliveries):
        session.info[WAKE_KEY] = True
    for delivery in deliveries:
        await events.emit(
            session,
            events.DELIVERY_UPDATED,
            chat_public_id,
            delivery_event_data(delivery, message_public_id),
        )


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


async def emit_update(session: AsyncSession, delivery: Delivery) -> None:
    """Tell live pages a delivery's state changed (looks up the public ids they use)."""
    chat_public_id = message_public_id = None
    if delivery.chat_id is not None:
        query = select(Chat.public_id).where(col(Chat.id) == delivery.chat_id)
        chat_public_id = (await session.exec(query)).first()
    if delivery.message_id is not None:
        found = select(Message.public_id).where(col(Message.id) == delivery.message_id)
        message_public_id = (await session.exec(found)).first()
    await events.emit(
        session,
        events.DELIVERY_UPDATED,
        chat_public_id,
        delivery_event_data(delivery, message_public_id),
    )


def suppressed(delivery: Delivery, reason: str) -> None:
    delivery.status = DeliveryStatus.suppressed
    delivery.error = reason

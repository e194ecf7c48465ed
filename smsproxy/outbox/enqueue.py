"""Queueing: every SMS to send is a Delivery row written in its cause's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..models import Chat, Delivery, DeliveryStatus, Message

# Set in a session that queued an SMS; the composition root wakes the sender when such
# a transaction commits, so a forward leaves at once rather than at the next poll.
WAKE_KEY = "smsproxy.wake_outbox"


def took_new_rows(session: AsyncSession) -> bool:
    """Whether this (committed) unit of work queued an SMS; clears the mark."""
    return bool(session.info.pop(WAKE_KEY, False))


async def enqueue(
    session: AsyncSession,
    delivery: Delivery,
    *,
    chat_public_id: str | None = None,
    message_public_id: str | None = None,
) -> Delivery:
    """Queue one SMS; the sender worker is woken as soon as the transaction commits."""
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
        events.emit(session, events.DeliveryUpdated(delivery, chat_public_id, message_public_id))


async def emit_update(session: AsyncSession, delivery: Delivery) -> None:
    """Tell live pages a delivery's state changed (looks up the public ids they use)."""
    chat_public_id = message_public_id = None
    if delivery.chat_id is not None or delivery.message_id is not None:
        query = (
            select(Chat.public_id, Message.public_id)
            .select_from(Delivery)
            .outerjoin(Chat, col(Chat.id) == Delivery.chat_id)
            .outerjoin(Message, col(Message.id) == Delivery.message_id)
            .where(col(Delivery.id) == delivery.id)
        )
        found = (await session.exec(query)).first()
        if found is not None:
            chat_public_id, message_public_id = found
    events.emit(session, events.DeliveryUpdated(delivery, chat_public_id, message_public_id))


def suppressed(delivery: Delivery, reason: str) -> None:
    delivery.status = DeliveryStatus.suppressed
    delivery.error = reason

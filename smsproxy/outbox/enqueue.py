"""Queueing: every SMS to send is a Delivery row written in its cause's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..models import Chat, Delivery, DeliveryStatus, Message, Participant

OPTED_OUT = "The recipient has opted out of SMS from this service"

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
    participant_public_ids: Mapping[int, str] | None = None,
) -> None:
    """Write the deliveries one message causes in one flush, and their live events
    (`participant_public_ids` names each recipient participant by internal id).

    Rows already marked suppressed are kept for the transcript but never sent; the
    sender worker is woken after commit when any of the others is queued.
    """
    session.add_all(deliveries)
    await session.flush()
    if any(delivery.status == DeliveryStatus.queued for delivery in deliveries):
        session.info[WAKE_KEY] = True
    names = participant_public_ids or {}
    for delivery in deliveries:
        recipient = names.get(delivery.participant_id) if delivery.participant_id else None
        update = events.DeliveryUpdated(delivery, chat_public_id, message_public_id, recipient)
        events.emit(session, update)


async def emit_update(session: AsyncSession, delivery: Delivery) -> None:
    """Tell live pages and integrations a delivery's state changed, with the public ids
    they use for its chat, message and recipient (looked up in one statement)."""
    ids: list[str | None] = [None, None, None]
    if (delivery.chat_id, delivery.message_id, delivery.participant_id) != (None, None, None):
        query = select(
            select(Chat.public_id).where(col(Chat.id) == delivery.chat_id).scalar_subquery(),
            select(Message.public_id)
            .where(col(Message.id) == delivery.message_id)
            .scalar_subquery(),
            select(Participant.public_id)
            .where(col(Participant.id) == delivery.participant_id)
            .scalar_subquery(),
        )
        ids = list((await session.exec(query)).one())
    events.emit(session, events.DeliveryUpdated(delivery, *ids))


def suppressed(delivery: Delivery, reason: str) -> None:
    delivery.status = DeliveryStatus.suppressed
    delivery.error = reason

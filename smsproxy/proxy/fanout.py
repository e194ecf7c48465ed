"""Outbound fan-out: one message to several participants, each SMS from the recipient's
own proxy number (the number they reply to), all queued in one flush.

Forwards, staff messages, intro and goodbye SMS all leave through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Chat, Delivery, DeliveryKind, Message, Participant
from ..outbox.enqueue import OPTED_OUT, enqueue_many, suppressed

# One text for everyone, or a text made for each recipient (intro SMS name the others).
Body = str | Callable[[Participant], str]


async def fan_out(
    session: AsyncSession,
    chat: Chat,
    message: Message,
    recipients: Sequence[Participant],
    kind: DeliveryKind,
    body: Body,
    now: datetime,
) -> list[Delivery]:
    """Queue one SMS to each recipient; opted-out recipients get a suppressed row, kept
    so the transcript shows who did not get it, and why."""
    deliveries = [
        _delivery_to(chat, message, recipient, kind, _text(body, recipient), now)
        for recipient in recipients
    ]
    await enqueue_many(
        session,
        deliveries,
        chat_public_id=chat.public_id,
        message_public_id=message.public_id,
        participant_public_ids={p.id: p.public_id for p in recipients if p.id is not None},
    )
    return deliveries


def _text(body: Body, recipient: Participant) -> str:
    return body if isinstance(body, str) else body(recipient)


def _delivery_to(
    chat: Chat,
    message: Message,
    recipient: Participant,
    kind: DeliveryKind,
    text: str,
    now: datetime,
) -> Delivery:
    delivery = Delivery(
        kind=kind,
        message_id=message.id,
        chat_id=chat.id,
        participant_id=recipient.id,
        from_number=recipient.proxy_number,
        to_number=recipient.real_number,
        body=text,
    )
    if recipient.opted_out:
        delivery.created_at = delivery.updated_at = now
        suppressed(delivery, OPTED_OUT)
    return delivery

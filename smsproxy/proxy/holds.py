"""Held texts (CONTACT_POLICY=hold): staff release or reject them, from the chat page
or the API.

A release forwards the text as the sender wrote it (cut at the forward cap only). A
hold exists so that a person decides: most holds are false alarms (a booking code read
as a number), which a redaction would mangle, and a text that really leaks a number is
rejected, not forwarded with holes. Each decision is audited and shown live.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import Conflict, NotFound
from ..models import Chat, ChatStatus, Delivery, DeliveryKind, Message, Screening
from . import audit
from .fanout import fan_out
from .queries import ChatView, get_chat
from .screening import Policy, capped, forward_body

log = logging.getLogger(__name__)


@dataclass
class Decision:
    view: ChatView
    message: Message
    deliveries: list[Delivery] = field(default_factory=list)


async def release_held(
    session: AsyncSession,
    chat_public_id: str,
    message_public_id: str,
    *,
    actor: str,
    policy: Policy,
    now: datetime | None = None,
) -> Decision:
    """Forward a held text, as written, to the chat's other active participants."""
    now = now or utcnow()
    view, message = await _held(session, chat_public_id, message_public_id)
    chat = await _locked_chat(session, view.chat)
    if chat.status != ChatStatus.active:
        raise Conflict(
            f"Chat {chat.public_id} is closed, so its held message can no longer be "
            "forwarded; reject it instead"
        )
    await _decide(session, message, Screening.released)
    everyone = [p for p in view.participants if p.active]
    author = next((p for p in everyone if p.id == message.participant_id), None)
    recipients = [p for p in everyone if p.id != message.participant_id]
    text = capped(message.body)
    body = forward_body(author, everyone, text, policy) if author else text
    deliveries = await fan_out(session, chat, message, recipients, DeliveryKind.forward, body, now)
    events.emit(session, events.MessageReleased(message, chat.public_id, actor, len(recipients)))
    _audit(session, actor, "message.release", message, chat, recipients=len(recipients))
    log.info("held message %s released to %d recipient(s)", message.public_id, len(recipients))
    return Decision(view, message, deliveries)


async def reject_held(
    session: AsyncSession, chat_public_id: str, message_public_id: str, *, actor: str
) -> Decision:
    """Never forward a held text (it stays in the transcript, marked rejected)."""
    view, message = await _held(session, chat_public_id, message_public_id)
    await _decide(session, message, Screening.rejected)
    events.emit(session, events.MessageRejected(message, view.chat.public_id, actor))
    _audit(session, actor, "message.reject", message, view.chat)
    log.info("held message %s rejected", message.public_id)
    return Decision(view, message)


async def _held(
    session: AsyncSession, chat_public_id: str, message_public_id: str
) -> tuple[ChatView, Message]:
    view = await get_chat(session, chat_public_id)
    query = select(Message).where(
        col(Message.chat_id) == view.chat.id, col(Message.public_id) == message_public_id
    )
    message = (await session.exec(query)).first()
    if message is None:
        raise NotFound(f"Chat {view.chat.public_id} has no message {message_public_id!r}")
    if message.screening != Screening.held:
        state = {
            Screening.released: "it was already released",
            Screening.rejected: "it was already rejected",
        }.get(message.screening or "", "it was never held")
        raise Conflict(f"Message {message.public_id} is not held: {state}")
    return view, message


async def _decide(session: AsyncSession, message: Message, decision: str) -> None:
    """Held -> released or rejected, once: of two people deciding at the same moment,
    the second is told it was already decided."""
    result = await session.exec(
        update(Message)
        .where(col(Message.id) == message.id, col(Message.screening) == Screening.held)
        .values(screening=decision)
    )
    if result.rowcount == 0:
        raise Conflict(f"Message {message.public_id} was decided by someone else just now")
    await session.refresh(message)


async def _locked_chat(session: AsyncSession, chat: Chat) -> Chat:
    # Locked, so a close committing meanwhile cannot slip between the check and the send.
    query = (
        select(Chat)
        .where(col(Chat.id) == chat.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(query)).one()


def _audit(
    session: AsyncSession, actor: str, action: str, message: Message, chat: Chat, **detail: int
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target=message.public_id,
        detail={"chat": chat.public_id, "found": message.screening_note, **detail},
    )

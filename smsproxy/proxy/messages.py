"""Staff messages: staff (through the dashboard or the API) write into an active chat.

Each recipient gets the SMS from their own proxy number, as they get everything in the
chat, so a reply goes back into the chat. The transcript shows it as from staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import Conflict, NotFound, ProxyError
from ..models import (
    AuthorKind,
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    Message,
    Participant,
)
from . import audit
from .chats import touch
from .fanout import fan_out
from .limits import MAX_BODY_LENGTH
from .queries import ChatView, get_chat, participants_of

log = logging.getLogger(__name__)

__all__ = [
    "MAX_BODY_LENGTH",
    "TO_ALL",
    "InvalidMessage",
    "StaffMessage",
    "check_body",
    "send_staff_message",
]

TO_ALL = "all"


class InvalidMessage(ProxyError):
    status = 422
    code = "invalid_message"


@dataclass
class StaffMessage:
    view: ChatView
    message: Message
    deliveries: list[Delivery] = field(default_factory=list)


def check_body(body: str) -> str:
    if not body.strip():
        raise InvalidMessage("The message is empty: write something to send", field="body")
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidMessage(
            f"The message is {len(body)} characters long; at most {MAX_BODY_LENGTH} fit "
            "in one SMS conversation turn",
            field="body",
        )
    return body


async def send_staff_message(
    session: AsyncSession,
    chat_public_id: str,
    body: str,
    *,
    to: str = TO_ALL,
    staff_user_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> StaffMessage:
    """Send `body` to one participant (`to` = their id) or to every active one ("all")."""
    now = now or utcnow()
    body = check_body(body)
    chat = await _open_chat_locked(session, chat_public_id)
    participants = await participants_of(session, chat)
    recipients = _recipients(chat, participants, to)
    assert chat.id is not None
    message = Message(
        chat_id=chat.id,
        author_kind=AuthorKind.staff,
        staff_user_id=staff_user_id,
        body=body,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    touch(chat, now)
    chat.awaiting_since = None  # answered: the chat no longer waits for staff
    session.add(chat)
    audit.record(
        session,
        actor=actor,
        action="message.send",
        target=chat.public_id,
        detail={"message": message.public_id, "recipients": len(recipients)},
    )
    events.emit(session, events.MessageCreated(message, chat.public_id))
    deliveries = await fan_out(session, chat, message, recipients, DeliveryKind.staff, body, now)
    log.info(
        "staff message %s queued to %d recipient(s) in chat %s",
        message.public_id,
        len(deliveries),
        chat.public_id,
    )
    return StaffMessage(ChatView(chat, participants), message, deliveries)


async def _open_chat_locked(session: AsyncSession, chat_public_id: str) -> Chat:
    found = await get_chat(session, chat_public_id)
    # Locked, so a close committing meanwhile cannot slip between the check and the send.
    chat = (
        await session.exec(
            select(Chat)
            .where(col(Chat.id) == found.chat.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    if chat.status != ChatStatus.active:
        raise Conflict(f"Chat {chat.public_id} is closed: messages can no longer be sent into it")
    return chat


def _recipients(chat: Chat, participants: list[Participant], to: str) -> list[Participant]:
    if to == TO_ALL:
        return [p for p in participants if p.active]
    recipients = [p for p in participants if p.public_id == to]
    if not recipients:
        raise NotFound(f"Chat {chat.public_id} has no participant {to!r}", field="to")
    if not recipients[0].active:
        raise Conflict(f"Participant {to} has left chat {chat.public_id}", field="to")
    return recipients

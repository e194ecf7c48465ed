"""Inbound routing: the one path every SMS to a proxy number takes (DESIGN.md rules 3, 4, 6).

The carrier's webhook and the sandbox's simulated handsets both end here, inside the
caller's transaction: the Message, the SMS it causes (outbox rows) and its live events
commit together or not at all.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, make_transient_to_detached
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events, outbox
from ..carrier import InboundSms
from ..db import utcnow
from ..models import (
    AuthorKind,
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    EndedNotice,
    Message,
    Participant,
)
from ..phone import mask
from .chats import display_name, message_event_data, touch
from .pool import is_proxy_number

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

ENDED_REPLY_EVERY = timedelta(hours=24)
OPTED_OUT = "The recipient has opted out of SMS from this service"
_E164 = re.compile(r"\+\d{1,19}")


def is_alphanumeric_sender(sender: str | None) -> bool:
    """True for a sender ID such as "VONAGE" or "MyBank": a name a company sends
    under, which nobody can text back. Every other sender is stored in E.164."""
    return bool(sender) and _E164.fullmatch(sender or "") is None


@dataclass(frozen=True)
class RoutingOptions:
    """The settings routing needs, as plain values."""

    ended_reply: str = ""  # empty: never reply to SMS for ended chats
    ended_reply_every: timedelta = ENDED_REPLY_EVERY


def routing_options(settings: Settings) -> RoutingOptions:
    return RoutingOptions(ended_reply=settings.ended_reply.strip())


class Route(StrEnum):
    routed = "routed"  # forwarded to the chat's other participants
    unrouted = "unrouted"  # no active chat for (sender, proxy number): kept for staff
    not_ours = "not_ours"  # the number is not in the pool: kept for staff, no reply
    duplicate = "duplicate"  # a retry of an SMS already recorded: nothing to do
    buffered = "buffered"  # a part of a multipart SMS, waiting for the rest


@dataclass
class Outcome:
    route: Route
    message: Message | None = None
    chat: Chat | None = None
    deliveries: list[Delivery] = field(default_factory=list)


async def receive(
    session: AsyncSession,
    inbound: InboundSms,
    options: RoutingOptions,
    now: datetime | None = None,
) -> Outcome:
    """Record an inbound SMS once and forward it (or answer it) as the rules say."""
    now = now or utcnow()
    # Duplicates are caught by record_once, whose insert the unique index turns into a
    # no-op: a lookup first would cost every SMS a round trip to spare a few retries one.
    if is_alphanumeric_sender(inbound.sender):
        # Never a participant (they are phone numbers), and never answered.
        return await _keep_unrouted(session, inbound, options, now)
    found = await active_route(session, inbound.sender, inbound.to)
    if found is None:
        return await _keep_unrouted(session, inbound, options, now)
    author, chat = found.author, found.chat
    assert chat.id is not None
    message = _inbound_message(
        inbound, now, chat_id=chat.id, author_kind=AuthorKind.participant, participant_id=author.id
    )
    if not await record_once(session, message):
        log.info("inbound %s was already recorded: a retry", inbound.carrier_message_id)
        return Outcome(Route.duplicate)
    touch(chat, now)
    session.add(chat)
    await events.emit(
        session, events.MESSAGE_CREATED, chat.public_id, message_event_data(message, author)
    )
    everyone = [p for p in found.participants if p.active]
    # In a group, each recipient hears everyone through one number: say who wrote.
    body = inbound.text if len(everyone) <= 2 else f"{display_name(author)}: {inbound.text}"
    recipients = [p for p in everyone if p.id != author.id]
    deliveries = await send_to_participants(
        session, chat, message, recipients, DeliveryKind.forward, body, now
    )
    log.info(
        "inbound %s routed in chat %s to %d recipient(s)",
        inbound.carrier_message_id,
        chat.public_id,
        len(deliveries),
    )
    return Outcome(Route.routed, message, chat, deliveries)


async def send_to_participant(
    session: AsyncSession,
    chat: Chat,
    message: Message,
    recipient: Participant,
    kind: DeliveryKind,
    body: str,
    now: datetime,
) -> Delivery:
    """One SMS to a participant from their own proxy number (the one they reply to)."""
    return (await send_to_participants(session, chat, message, [recipient], kind, body, now))[0]


async def send_to_participants(
    session: AsyncSession,
    chat: Chat,
    message: Message,
    recipients: list[Participant],
    kind: DeliveryKind,
    body: str,
    now: datetime,
) -> list[Delivery]:
    """One SMS to each recipient from their own proxy number, written in one flush."""
    deliveries = [
        _delivery_to(chat, message, recipient, kind, body, now) for recipient in recipients
    ]
    await outbox.enqueue_many(
        session, deliveries, chat_public_id=chat.public_id, message_public_id=message.public_id
    )
    return deliveries


def _delivery_to(
    chat: Chat,
    message: Message,
    recipient: Participant,
    kind: DeliveryKind,
    body: str,
    now: datetime,
) -> Delivery:
    delivery = Delivery(
        kind=kind,
        message_id=message.id,
        chat_id=chat.id,
        participant_id=recipient.id,
        from_number=recipient.proxy_number,
        to_number=recipient.real_number,
        body=body,
    )
    if recipient.opted_out:
        # Kept as a row so the transcript shows who did not get it, and why.
        delivery.created_at = delivery.updated_at = now
        outbox.suppressed(delivery, OPTED_OUT)
    return delivery


async def is_recorded(session: AsyncSession, carrier_message_id: str) -> bool:
    query = select(Message.id).where(Message.carrier_message_id == carrier_message_id)
    return (await session.exec(query)).first() is not None


async def record_once(session: AsyncSession, message: Message) -> bool:
    """Insert an inbound message; False when its carrier message id is already recorded,
    by an earlier webhook or by another process at the same moment.

    One statement: the unique index on the carrier message id turns a retry's insert
    into a no-op (a concurrent one waits for the first to commit, then finds it), so
    neither a lookup first nor a savepoint around the insert is needed.
    """
    table = Message.__table__  # type: ignore[attr-defined]
    values = {
        column.name: getattr(message, column.name) for column in table.c if column.name != "id"
    }
    statement = (
        _insert_for(session)(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[table.c.carrier_message_id])
        .returning(table.c.id)
    )
    row = (await session.exec(statement)).first()
    if row is None:
        log.info("inbound %s was recorded before", message.carrier_message_id)
        return False
    message.id = row[0]
    # Now a row like any loaded one: later changes to it are flushed as updates.
    make_transient_to_detached(message)
    session.add(message)
    return True


@dataclass(frozen=True)
class ActiveRoute:
    author: Participant
    chat: Chat
    participants: list[Participant]  # everyone in the chat, the author too, in order


def _route_query() -> Any:
    author_side = aliased(Participant)
    return (
        select(Participant, Chat)
        .join(Chat, col(Chat.id) == Participant.chat_id)
        .join(author_side, col(author_side.chat_id) == col(Chat.id))
        .where(
            col(author_side.real_number) == bindparam("sender"),
            col(author_side.proxy_number) == bindparam("proxy_number"),
            col(author_side.active),
            Chat.status == ChatStatus.active,
        )
        .order_by(col(Participant.position), col(Participant.id))
    )


# Built once: every inbound SMS runs it, and building it costs more than running it.
_ROUTE_QUERY = _route_query()


async def active_route(session: AsyncSession, sender: str, proxy_number: str) -> ActiveRoute | None:
    """The route (sender, proxy number) of an active chat, with the chat and all of its
    participants, in one query."""
    params = {"sender": sender, "proxy_number": proxy_number}
    rows = (await session.exec(_ROUTE_QUERY, params=params)).all()
    for participant, chat in rows:
        if (
            participant.active
            and participant.real_number == sender
            and participant.proxy_number == proxy_number
        ):
            return ActiveRoute(participant, chat, [p for p, _ in rows])
    return None


async def active_participant(
    session: AsyncSession, sender: str, proxy_number: str
) -> Participant | None:
    """The route (sender, proxy number) of an active chat, if there is one."""
    found = await active_route(session, sender, proxy_number)
    return found.author if found else None


def _insert_for(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _inbound_message(
    inbound: InboundSms,
    now: datetime,
    *,
    chat_id: int | None,
    author_kind: AuthorKind,
    participant_id: int | None = None,
) -> Message:
    return Message(
        chat_id=chat_id,
        author_kind=author_kind,
        participant_id=participant_id,
        sender_number=inbound.sender,
        proxy_number=inbound.to,
        body=inbound.text,
        carrier_message_id=inbound.carrier_message_id,
        created_at=now,
    )


async def _keep_unrouted(
    session: AsyncSession, inbound: InboundSms, options: RoutingOptions, now: datetime
) -> Outcome:
    message = _inbound_message(inbound, now, chat_id=None, author_kind=AuthorKind.unrouted)
    if not await record_once(session, message):
        return Outcome(Route.duplicate)
    await events.emit(session, events.MESSAGE_CREATED, None, unrouted_event_data(message))
    if not await is_proxy_number(session, inbound.to):
        log.info("inbound %s is for a number outside the pool", inbound.carrier_message_id)
        return Outcome(Route.not_ours, message)
    if is_alphanumeric_sender(inbound.sender):
        log.info(
            "inbound %s is from a sender ID (an alphanumeric sender or short code), which "
            "cannot be answered; kept as unrouted",
            inbound.carrier_message_id,
        )
        return Outcome(Route.unrouted, message)
    deliveries = []
    if options.ended_reply and await claim_ended_notice(
        session, inbound.sender, inbound.to, now, options.ended_reply_every
    ):
        deliveries.append(
            await outbox.enqueue(
                session,
                kind=DeliveryKind.ended_reply,
                from_number=inbound.to,
                to_number=inbound.sender,
                body=options.ended_reply,
                message_id=message.id,
                message_public_id=message.public_id,
            )
        )
    log.info(
        "inbound %s has no active chat; kept as unrouted (%s)",
        inbound.carrier_message_id,
        "ended reply queued" if deliveries else "no reply",
    )
    log.debug("unrouted inbound from %s to %s", mask(inbound.sender), inbound.to)
    return Outcome(Route.unrouted, message, None, deliveries)


async def claim_ended_notice(
    session: AsyncSession, sender: str, proxy_number: str, now: datetime, every: timedelta
) -> bool:
    """Check-and-set in one statement: True when no ended reply went to this sender on
    this number within `every`, and records that one goes now.

    An upsert whose update only happens when the last notice is old enough: of two
    processes racing, the second waits on the row and then finds it fresh.
    """
    insert = _insert_for(session)
    table = EndedNotice.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(sender_number=sender, proxy_number=proxy_number, sent_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.sender_number, table.c.proxy_number],
            set_={"sent_at": now},
            where=table.c.sent_at <= now - every,
        )
        .returning(table.c.sent_at)
    )
    result = await session.exec(statement)
    return result.first() is not None


def unrouted_event_data(message: Message) -> dict[str, Any]:
    """Live data for an unrouted SMS: the sender masked, never in full (an alphanumeric
    sender is a company's name, not personal data: shown as sent)."""
    sender = message.sender_number
    return {
        **message_event_data(message, None),
        "sender": sender if is_alphanumeric_sender(sender) else mask(sender),
        "proxy_number": message.proxy_number,
    }

"""Routing a whole inbound SMS (DESIGN.md rules 3, 4, 6): forward it to the other
participants of its chat, or keep it as unrouted.

Reached through the front door, `inbound.receive_sms`, inside the caller's transaction:
the Message, the SMS it causes (outbox rows) and its live events commit together or
not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..carrier import InboundSms
from ..config import Settings
from ..db import insert_for, utcnow
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
from ..outbox.enqueue import enqueue
from ..phone import is_alphanumeric_sender, mask
from .activity import touch_at_commit
from .fanout import fan_out
from .pool import is_proxy_number
from .recording import inbound_message, record_once

log = logging.getLogger(__name__)

ENDED_REPLY_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class RoutingOptions:
    """The settings routing needs, as plain values."""

    ended_reply: str = ""  # empty: never reply to SMS for ended chats


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


async def route(
    session: AsyncSession,
    inbound: InboundSms,
    options: RoutingOptions,
    now: datetime | None = None,
) -> Outcome:
    """Record a whole inbound SMS once and forward it (or answer it) as the rules say."""
    now = now or utcnow()
    # Duplicates are caught by record_once, whose insert the unique index turns into a
    # no-op: a lookup first would cost every SMS a round trip to spare a few retries one.
    if is_alphanumeric_sender(inbound.sender):
        # Never a participant (they are phone numbers), and never answered.
        return await keep_unrouted(session, inbound, options, now)
    found = await active_route(session, inbound.sender, inbound.to)
    if found is None:
        return await keep_unrouted(session, inbound, options, now)
    author, chat = found.author, found.chat
    assert chat.id is not None
    message = inbound_message(
        inbound, now, chat_id=chat.id, author_kind=AuthorKind.participant, participant_id=author.id
    )
    if not await record_once(session, message):
        log.info("inbound %s was already recorded: a retry", inbound.carrier_message_id)
        return Outcome(Route.duplicate)
    touch_at_commit(session, chat, now)
    events.emit(session, events.MessageCreated(message, chat.public_id, author))
    everyone = [p for p in found.participants if p.active]
    # In a group, each recipient hears everyone through one number: say who wrote.
    body = inbound.text if len(everyone) <= 2 else f"{author.display_name}: {inbound.text}"
    recipients = [p for p in everyone if p.id != author.id]
    deliveries = await fan_out(session, chat, message, recipients, DeliveryKind.forward, body, now)
    # Every SMS passes here: at INFO, the line would cost more than half a statement.
    log.debug(
        "inbound %s routed in chat %s to %d recipient(s)",
        inbound.carrier_message_id,
        chat.public_id,
        len(deliveries),
    )
    return Outcome(Route.routed, message, chat, deliveries)


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


async def keep_unrouted(
    session: AsyncSession, inbound: InboundSms, options: RoutingOptions, now: datetime
) -> Outcome:
    """Keep an SMS with no active chat for staff, and tell the sender (at most once a
    day per number) that the conversation has ended."""
    message = inbound_message(inbound, now, chat_id=None, author_kind=AuthorKind.unrouted)
    if not await record_once(session, message):
        return Outcome(Route.duplicate)
    events.emit(session, events.MessageCreated(message, None))
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
        session, inbound.sender, inbound.to, now, ENDED_REPLY_EVERY
    ):
        reply = Delivery(
            kind=DeliveryKind.ended_reply,
            from_number=inbound.to,
            to_number=inbound.sender,
            body=options.ended_reply,
            message_id=message.id,
        )
        deliveries.append(await enqueue(session, reply, message_public_id=message.public_id))
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
    table = EndedNotice.__table__  # type: ignore[attr-defined]
    statement = (
        insert_for(session)(table)
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

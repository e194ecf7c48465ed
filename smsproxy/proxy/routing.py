"""Routing a whole inbound SMS (DESIGN.md rules 3, 4, 6): forward it to the other
participants of its chat, or keep it as unrouted.

Reached through the front door, `inbound.receive_sms`, inside the caller's transaction:
the Message, the SMS it causes (outbox rows) and its live events commit together or
not at all. The text is screened here, once, before fan-out: a keyword (STOP, START,
HELP) is acted on and not forwarded; otherwise the contact guard redacts or holds it
(CONTACT_POLICY) and the forward is cut at the cap. The route query also says which
participants opted out, so honouring STOP costs no extra round trip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..carrier import InboundSms
from ..db import utcnow
from ..models import AuthorKind, Chat, ChatStatus, DeliveryKind, OptOut, Participant, Screening
from ..phone import is_alphanumeric_sender
from .activity import touch_at_commit
from .fanout import fan_out
from .keyword_actions import act_on_keyword
from .keywords import note_for
from .options import Outcome, Route, RoutingOptions, routing_options
from .recording import inbound_message, record_once
from .screening import forward_body, regions_of, screen
from .unrouted import keep_unrouted

__all__ = ["Outcome", "Route", "RoutingOptions", "active_route", "route", "routing_options"]

log = logging.getLogger(__name__)


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
    if is_alphanumeric_sender(inbound.sender) or not inbound.is_sms_text:
        # A sender ID is never a participant (they are phone numbers); a WhatsApp
        # message or a picture is not for an SMS chat. Both are kept, never answered.
        return await keep_unrouted(session, inbound, options, now)
    keyword = options.keywords.match(inbound.text)
    found = await active_route(session, inbound.sender, inbound.to)
    if found is None:
        return await keep_unrouted(session, inbound, options, now, keyword)
    author, chat = found.author, found.chat
    assert chat.id is not None
    everyone = [p for p in found.participants if p.active]
    message = inbound_message(
        inbound, now, chat_id=chat.id, author_kind=AuthorKind.participant, participant_id=author.id
    )
    screened = None
    if keyword is not None:
        message.screening, message.screening_note = Screening.keyword, note_for(keyword)
    else:
        screened = screen(inbound.text, regions_of(everyone), options.contact_policy)
        message.screening, message.screening_note = screened.action, screened.note
    if not await record_once(session, message):
        log.info("inbound %s was already recorded: a retry", inbound.carrier_message_id)
        return Outcome(Route.duplicate)
    touch_at_commit(session, chat, now)
    events.emit(session, events.MessageCreated(message, chat.public_id, author))
    if keyword is not None:
        deliveries = await act_on_keyword(
            session,
            keyword,
            message,
            options,
            now,
            chat_public_id=chat.public_id,
            participant_id=author.id,
        )
        log.info("inbound %s is a %s keyword", inbound.carrier_message_id, keyword.kind)
        return Outcome(Route.keyword, message, chat, deliveries)
    assert screened is not None
    if screened.action == Screening.held:
        events.emit(session, events.MessageHeld(message, chat.public_id, author))
        log.info("inbound %s held for staff in chat %s", inbound.carrier_message_id, chat.public_id)
        return Outcome(Route.held, message, chat)
    found.note_opt_outs(session)
    body = forward_body(author, everyone, screened.text, options.contact_policy)
    recipients = [p for p in everyone if p.id != author.id]
    deliveries = await fan_out(session, chat, message, recipients, DeliveryKind.forward, body, now)
    # Every SMS passes here: at INFO, the line would cost more than half a statement.
    log.debug(
        "inbound %s routed in chat %s to %d recipient(s)%s",
        inbound.carrier_message_id,
        chat.public_id,
        len(deliveries),
        " with contact details removed" if screened.action else "",
    )
    return Outcome(Route.routed, message, chat, deliveries)


@dataclass(frozen=True)
class ActiveRoute:
    author: Participant
    chat: Chat
    participants: list[Participant]  # everyone in the chat, the author too, in order
    opted_out: frozenset[int]  # ids of the participants whose number opted out

    def note_opt_outs(self, session: AsyncSession) -> None:
        """Bring the participants' flags in line with the opt-outs the route query saw
        (a chat created while its participant texted STOP may have missed it), so
        fan-out suppresses their SMS. Written only when it changed: usually never."""
        for participant in self.participants:
            opted_out = participant.id in self.opted_out
            if participant.opted_out != opted_out:
                participant.opted_out = opted_out
                session.add(participant)


def _route_query() -> Any:
    author_side = aliased(Participant)
    return (
        select(Participant, Chat, OptOut.id)
        .join(Chat, col(Chat.id) == Participant.chat_id)
        .join(author_side, col(author_side.chat_id) == col(Chat.id))
        .outerjoin(OptOut, col(OptOut.number) == col(Participant.real_number))
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
    """The route (sender, proxy number) of an active chat, with the chat, all of its
    participants and which of them opted out, in one query."""
    params = {"sender": sender, "proxy_number": proxy_number}
    rows = (await session.exec(_ROUTE_QUERY, params=params)).all()
    opted_out = frozenset(p.id for p, _, opt_out in rows if opt_out is not None and p.id)
    for participant, chat, _ in rows:
        if (
            participant.active
            and participant.real_number == sender
            and participant.proxy_number == proxy_number
        ):
            return ActiveRoute(participant, chat, [p for p, _, _ in rows], opted_out)
    return None

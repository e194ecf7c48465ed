"""SMS with no active chat for their sender (DESIGN.md rule 4): kept for staff, and
answered at most once a day (and within the hourly bound on automatic replies). A
keyword texted to any of the pool's numbers is acted on all the same."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..carrier import InboundSms
from ..models import AuthorKind, Delivery, DeliveryKind, Screening
from ..phone import is_alphanumeric_sender, mask
from .keyword_actions import act_on_keyword
from .keywords import Keyword, note_for
from .options import Outcome, Route, RoutingOptions
from .pool import is_proxy_number
from .recording import inbound_message, record_once
from .replies import ENDED_REPLY_EVERY, claim_ended_notice, queue_auto_reply

log = logging.getLogger(__name__)


async def keep_unrouted(
    session: AsyncSession,
    inbound: InboundSms,
    options: RoutingOptions,
    now: datetime,
    keyword: Keyword | None = None,
) -> Outcome:
    """Keep an SMS with no active chat for staff, and tell the sender (at most once a
    day per number) that the conversation has ended. What cannot be answered by SMS (a
    sender ID, another channel's message) is kept without a reply."""
    message = inbound_message(inbound, now, chat_id=None, author_kind=AuthorKind.unrouted)
    if keyword is not None and await is_proxy_number(session, inbound.to):
        message.screening, message.screening_note = Screening.keyword, note_for(keyword)
        if not await record_once(session, message):
            return Outcome(Route.duplicate)
        events.emit(session, events.MessageCreated(message, None))
        answers = await act_on_keyword(session, keyword, message, options, now)
        log.info("inbound %s is a %s keyword", inbound.carrier_message_id, keyword.kind)
        return Outcome(Route.keyword, message, None, answers)
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
    if not inbound.is_sms_text:
        log.info(
            "inbound %s is a %s %s message, not an SMS text: kept as unrouted, not answered",
            inbound.carrier_message_id,
            inbound.channel,
            inbound.message_type,
        )
        return Outcome(Route.unrouted, message)
    deliveries: list[Delivery] = []
    if options.ended_reply and await claim_ended_notice(
        session, inbound.sender, inbound.to, now, ENDED_REPLY_EVERY
    ):
        reply = await queue_auto_reply(
            session,
            kind=DeliveryKind.ended_reply,
            message=message,
            from_number=inbound.to,
            to_number=inbound.sender,
            body=options.ended_reply,
            per_hour=options.auto_replies_per_hour,
            now=now,
        )
        deliveries.append(reply)
    log.info(
        "inbound %s has no active chat; kept as unrouted (%s)",
        inbound.carrier_message_id,
        "ended reply queued" if deliveries else "no reply",
    )
    log.debug("unrouted inbound from %s to %s", mask(inbound.sender), inbound.to)
    return Outcome(Route.unrouted, message, None, deliveries)

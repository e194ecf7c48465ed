"""What routing needs from the settings, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..config import Settings
from ..models import Chat, Delivery, Message
from .keywords import Keywords
from .screening import Policy


@dataclass(frozen=True)
class RoutingOptions:
    """The settings routing needs, as plain values."""

    ended_reply: str = ""  # empty: never reply to SMS for ended chats
    contact_policy: Policy = "redact"
    keywords: Keywords = field(default_factory=Keywords)
    opt_out_reply: str = ""  # empty: no confirmation
    opt_in_reply: str = ""
    help_reply: str = ""
    auto_replies_per_hour: int = 100


def routing_options(settings: Settings) -> RoutingOptions:
    return RoutingOptions(
        ended_reply=settings.ended_reply.strip(),
        contact_policy=settings.contact_policy,
        keywords=Keywords.from_lists(
            settings.opt_out_keywords, settings.opt_in_keywords, settings.help_keywords
        ),
        opt_out_reply=settings.opt_out_reply.strip(),
        opt_in_reply=settings.opt_in_reply.strip(),
        help_reply=settings.help_reply.strip(),
        auto_replies_per_hour=settings.auto_replies_per_hour,
    )


class Route(StrEnum):
    routed = "routed"  # forwarded to the chat's other participants
    held = "held"  # contact details found under CONTACT_POLICY=hold: waits for staff
    keyword = "keyword"  # STOP, START or HELP: acted on, answered, never forwarded
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

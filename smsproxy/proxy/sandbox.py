"""The sandbox's simulated handsets text in through the same front door as a webhook."""

from __future__ import annotations

from ..carrier.sandbox import handset_sms
from ..db import Database
from ..phone import parse_number
from .inbound import receive_sms
from .routing import Outcome, RoutingOptions


async def text_from_handset(
    db: Database,
    options: RoutingOptions,
    handset_number: str,
    proxy_number: str,
    text: str,
    *,
    default_region: str | None = None,
) -> Outcome:
    """A simulated handset texts a proxy number (both as typed). The handset's own log
    of the SMS commits with what the SMS causes."""
    handset = parse_number(handset_number, default_region)
    proxy = parse_number(proxy_number, default_region)
    inbound, record = handset_sms(handset, proxy, text)
    async with db.transaction() as session:
        session.add(record)
        return await receive_sms(session, inbound, options)

"""The front door: every inbound SMS and every delivery receipt enters here.

The carrier's webhooks and the sandbox's simulated handsets call these two functions
alike, inside a transaction: what an SMS causes (its Message, the SMS it fans out to,
its live events) commits with it, or not at all. Webhooks reach them through `Ingress`,
which commits those that arrive together in one transaction.

    receive_sms      whole SMS are routed (`routing`), parts of a long SMS wait for
                     the rest (`multipart`), which then routes the whole
    receive_receipt  the carrier's word on an SMS we sent, folded into its Delivery
                     (`outbox.receipts`); a carrier that blocked it because the
                     recipient opted out opts them out of the whole pool (`optouts`)
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from ..carrier import InboundSms, Receipt
from ..db import utcnow
from ..db.group_commit import GroupCommit
from ..outbox.receipts import ReceiptOutcome, apply_receipt, reports_opt_out
from ..phone import is_alphanumeric_sender
from .multipart import receive_part
from .optouts import opt_out
from .routing import Outcome, RoutingOptions, route


async def receive_sms(
    session: AsyncSession,
    inbound: InboundSms,
    options: RoutingOptions,
    now: datetime | None = None,
) -> Outcome:
    """An SMS reached one of the pool's numbers: record it once and act on it."""
    if inbound.is_part:
        return await receive_part(session, inbound, options, now)
    return await route(session, inbound, options, now)


async def receive_receipt(
    session: AsyncSession, receipt: Receipt, now: datetime | None = None
) -> ReceiptOutcome:
    """The carrier reports on one part of an SMS we sent."""
    now = now or utcnow()
    outcome = await apply_receipt(session, receipt, now)
    delivery = outcome.delivery
    if (
        delivery is not None
        and reports_opt_out(receipt)
        and not is_alphanumeric_sender(delivery.to_number)
    ):
        await opt_out(
            session,
            delivery.to_number,
            source="carrier",
            proxy_number=delivery.from_number,
            now=now,
        )
    return outcome


class Ingress:
    """The front door under load: SMS and receipts that arrive together are committed
    together (`GroupCommit`), each in a savepoint of its own. A caller returns once the
    commit holding its SMS is done, so a webhook is acknowledged only then; one that
    fails gets its own error while its neighbours commit."""

    def __init__(self, writer: GroupCommit, options: RoutingOptions) -> None:
        self.writer = writer
        self.options = options

    async def receive_sms(self, inbound: InboundSms) -> Outcome:
        return await self.writer.run(lambda session: receive_sms(session, inbound, self.options))

    async def receive_receipt(self, receipt: Receipt) -> ReceiptOutcome:
        return await self.writer.run(lambda session: receive_receipt(session, receipt))

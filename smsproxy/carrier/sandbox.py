"""The sandbox carrier: SMS land on simulated handsets kept in the database.

Staff see the handsets on the sandbox page (`handsets`); a reply typed there (`handset_sms`) enters
through the same front door as a real webhook. Used whenever no Vonage credentials are
configured. Each SMS it "sends" is reported delivered shortly afterwards, handed to
`report` (which the composition root points at the same receipt path a Vonage delivery
receipt takes), so the dashboard shows the whole journey.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable

from ..db import Database
from ..models import CarrierMessage, SandboxSms
from . import InboundSms, OutboundSms, Receipt, SendResult

log = logging.getLogger(__name__)

RECEIPT_DELAY_SECONDS = 0.5
RECEIPT_PATIENCE_SECONDS = 30.0


def new_sandbox_message_id() -> str:
    return "sbx-" + secrets.token_hex(8)


class SandboxCarrier:
    name = "sandbox"

    def __init__(
        self,
        db: Database,
        report: Callable[[Receipt], Awaitable[object]],
        receipt_delay: float = RECEIPT_DELAY_SECONDS,
    ) -> None:
        self.db = db
        self.report = report
        self.receipt_delay = receipt_delay
        self._receipts: set[asyncio.Task[None]] = set()

    async def send(self, sms: OutboundSms) -> SendResult:
        message_id = new_sandbox_message_id()
        async with self.db.transaction() as session:
            session.add(
                SandboxSms(
                    handset_number=sms.to_number,
                    proxy_number=sms.from_number,
                    direction="in",
                    body=sms.text,
                    carrier_message_id=message_id,
                )
            )
        task = asyncio.create_task(self._report_delivered(message_id))
        self._receipts.add(task)
        task.add_done_callback(self._receipts.discard)
        return SendResult(message_ids=[message_id])

    async def _report_delivered(self, message_id: str) -> None:
        """Say "delivered" once the sender has recorded the send.

        The sender writes the message id (and "sent") only after send() returns, so the
        receipt waits until that row exists, as a real receipt follows the carrier's
        acceptance. Waiting here keeps the sender unaware of the sandbox.
        """
        db = self.db
        delay = self.receipt_delay
        waited = 0.0
        try:
            while waited <= RECEIPT_PATIENCE_SECONDS:
                await asyncio.sleep(delay)
                waited += delay
                async with db.read() as session:
                    recorded = await session.get(CarrierMessage, message_id) is not None
                if recorded:
                    await self.report(Receipt(message_id, "delivered", "0"))
                    return
                delay = min(max(delay * 2, 0.05), 1.0)
            log.info("sandbox receipt for %s dropped: the send was never recorded", message_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sandbox receipt for %s failed", message_id)

    async def settle(self) -> None:
        """Wait until every receipt due so far has been reported (for tests and demos)."""
        while self._receipts:
            await asyncio.gather(*list(self._receipts), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._receipts):
            task.cancel()
        for task in list(self._receipts):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def handset_sms(handset: str, proxy_number: str, text: str) -> tuple[InboundSms, SandboxSms]:
    """A simulated handset (E.164) texts a proxy number: the SMS as the carrier would
    deliver it, and the handset's own record of having sent it."""
    message_id = new_sandbox_message_id()
    inbound = InboundSms(sender=handset, to=proxy_number, carrier_message_id=message_id, text=text)
    record = SandboxSms(
        handset_number=handset,
        proxy_number=proxy_number,
        direction="out",
        body=text,
        carrier_message_id=message_id,
    )
    return inbound, record

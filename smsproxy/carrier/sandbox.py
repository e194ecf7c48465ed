"""The sandbox carrier: SMS land on simulated handsets kept in the database.

Staff see the handsets on the sandbox page; a reply typed there enters through the same
inbound path as a real webhook. Used whenever no Vonage credentials are configured.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from ..models import SandboxSms
from . import OutboundSms, SendResult

if TYPE_CHECKING:
    from ..runtime import Runtime


def new_sandbox_message_id() -> str:
    return "sbx-" + secrets.token_hex(8)


class SandboxCarrier:
    name = "sandbox"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def send(self, sms: OutboundSms) -> SendResult:
        message_id = new_sandbox_message_id()
        async with self.runtime.db.transaction() as session:
            session.add(
                SandboxSms(
                    handset_number=sms.to_number,
                    proxy_number=sms.from_number,
                    direction="in",
                    body=sms.text,
                    carrier_message_id=message_id,
                )
            )
        return SendResult(message_ids=[message_id])

    async def aclose(self) -> None:
        return None

"""Carriers send SMS. `vonage` uses the official SDK; `sandbox` keeps SMS on simulated
handsets so the product runs end to end with no account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutboundSms:
    delivery_id: str  # our Delivery.public_id, sent as Vonage's client-ref
    from_number: str  # E.164
    to_number: str  # E.164
    text: str
    # An earlier send of this SMS got no answer (it may have gone out): wait longer for
    # the carrier's answer this time rather than time out, and send again, once more.
    patient: bool = False


@dataclass(frozen=True)
class SendResult:
    message_ids: list[str]  # one per SMS part the carrier billed, or one for them all
    # True when the one id stands for the whole SMS, however many parts it took (the
    # Messages API), so receipts for it speak for the whole SMS too.
    whole_message: bool = False


@dataclass(frozen=True)
class InboundSms:
    """An SMS that reached one of our numbers, whichever way it came in."""

    sender: str  # E.164 real number, or an alphanumeric sender ID such as "VONAGE"
    to: str  # E.164 proxy number
    carrier_message_id: str
    text: str
    received_at: datetime | None = None
    concat_ref: str | None = None
    concat_total: int | None = None
    concat_part: int | None = None
    # The Messages API also brings mms, whatsapp, rcs, viber_service and messenger, and
    # types other than text (image, audio, file ...), which `text` then describes.
    channel: str = "sms"
    message_type: str = "text"
    # Which Vonage API's webhook brought it ("sms" or "messages"; None: the sandbox).
    # The same SMS can come in both formats while an account switches, with unrelated
    # ids, so it is recognised by sender, number, text and time instead.
    carrier_api: str | None = None

    @property
    def is_part(self) -> bool:
        return self.concat_ref is not None and (self.concat_total or 1) > 1

    @property
    def is_sms_text(self) -> bool:
        """A plain-text SMS: the only kind a chat forwards for now."""
        return self.channel == "sms" and self.message_type == "text"


RECEIPT_STATUSES = frozenset(
    {"delivered", "expired", "failed", "rejected", "accepted", "buffered", "unknown"}
)


def normalise_status(raw: str) -> str:
    """A receipt's status in our vocabulary; anything unrecognised is "unknown"."""
    status = raw.strip().lower()
    return status if status in RECEIPT_STATUSES else "unknown"


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt for one SMS part, or for the whole SMS."""

    carrier_message_id: str
    status: str  # delivered, expired, failed, rejected, accepted, buffered, unknown
    error_code: str | None = None
    client_ref: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    error_text: str | None = None  # the carrier's own reason, when it gives one
    # True when it reports on the whole SMS (a Messages API status, which Vonage sends
    # once all parts are in), False for one part (an SMS API delivery receipt).
    whole_message: bool = False


class CarrierError(Exception):
    transient = False
    ambiguous = False

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientCarrierError(CarrierError):
    """Worth retrying later: throttled, carrier down, timeout, network."""

    transient = True


class AmbiguousCarrierError(TransientCarrierError):
    """The request reached the carrier but its answer did not come back (a timeout
    while waiting for it, a connection dropped after sending): the SMS may have gone
    out. Sending again may send it twice, so the retry waits for a delivery receipt
    that would settle it, and is counted on the Delivery."""

    ambiguous = True


class PermanentCarrierError(CarrierError):
    """Retrying cannot help: bad credentials, invalid number, barred."""


class Carrier(Protocol):
    name: str

    async def send(self, sms: OutboundSms) -> SendResult: ...

    async def aclose(self) -> None: ...

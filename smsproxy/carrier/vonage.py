"""The Vonage carrier: the official SDK's SMS API, called from worker threads.

The SDK is synchronous (`requests`), so each send runs in a thread, at most
`SEND_CONCURRENCY` at a time. Every failure comes out as a Transient- or
PermanentCarrierError whose message a person can act on; the sender decides what to do.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import ValidationError
from vonage import Auth
from vonage_http_client.errors import (
    AuthenticationError,
    ForbiddenError,
    HttpRequestError,
    RateLimitedError,
    ServerError,
)
from vonage_sms import PartialFailureError, SmsError, SmsMessage

from ..config import Settings
from ..phone import to_carrier
from . import CarrierError, OutboundSms, PermanentCarrierError, SendResult, TransientCarrierError
from .gsm7 import is_gsm7
from .vonage_clients import ClientPool, transport_error, unsendable, whole_seconds

log = logging.getLogger(__name__)

# Per-message statuses of the SMS API. Only these are worth retrying as they are.
TRANSIENT_STATUSES = frozenset({"1", "5", "10"})
STATUS_TEXT = {
    "1": "Vonage throttled the request (more messages per second than the account allows)",
    "2": "Vonage says a required parameter is missing",
    "3": "Vonage rejected a parameter as invalid (often the recipient number)",
    "4": "Vonage rejected the API key or secret: check VONAGE_API_KEY and VONAGE_API_SECRET",
    "5": "Vonage had an internal error",
    "6": "Vonage could not route the message: the recipient number may be invalid",
    "7": "The recipient number is barred at Vonage",
    "8": "The Vonage account is barred",
    "9": "The Vonage account is out of credit or over its quota",
    "10": "Too many simultaneous connections to Vonage",
    "11": "The Vonage account is not enabled for the SMS API over HTTP",
    "12": "The message is too long for Vonage",
    "14": "Vonage rejected the request signature",
    "15": "Vonage does not allow this sender number for this destination",
    "22": "Vonage rejected the network code",
    "23": "Vonage rejected the callback URL",
    "29": "The destination is not on the Vonage account's allowed list (trial accounts "
    "may only text the numbers verified on them)",
    "32": "Vonage refused a request carrying both a signature and the API secret",
    "33": "The recipient number is deactivated",
}
_SMS_ERROR = re.compile(r"error code (\d+): ?(.*)", re.DOTALL)


class VonageCarrier:
    name = "vonage"

    def __init__(self, settings: Settings) -> None:
        assert settings.vonage_api_key and settings.vonage_api_secret
        # No signature secret here: with one, the SDK signs outbound SMS requests
        # instead of using the API secret, and that mode is broken in SDK 4.9.
        auth = Auth(api_key=settings.vonage_api_key, api_secret=settings.vonage_api_secret)
        self._clients = ClientPool(
            auth,
            rest_host=settings.vonage_rest_host,
            timeout=whole_seconds(settings.vonage_timeout_seconds),
            concurrency=settings.send_concurrency,
        )

    async def send(self, sms: OutboundSms) -> SendResult:
        message = build_message(sms)
        clients = self._clients
        try:
            response = await clients.call(
                lambda client: client.sms.send(message), patient=sms.patient
            )
        except Exception as error:
            timeout = clients.timeout_for(sms.patient)
            failure = classify(error, timeout=timeout, host=clients.host)
            log.info(
                "vonage send for delivery %s failed: %s (code %s)",
                sms.delivery_id,
                "ambiguous"
                if failure.ambiguous
                else ("transient" if failure.transient else "permanent"),
                failure.code,
            )
            raise failure from error
        ids = [part.message_id for part in response.messages if part.message_id]
        if not ids:
            raise TransientCarrierError("Vonage accepted the request but gave no message id")
        log.debug("vonage accepted delivery %s in %d part(s)", sms.delivery_id, len(ids))
        return SendResult(message_ids=ids)

    async def aclose(self) -> None:
        await self._clients.aclose()


def build_message(sms: OutboundSms) -> SmsMessage:
    try:
        return SmsMessage(
            to=to_carrier(sms.to_number),
            from_=to_carrier(sms.from_number),
            text=sms.text,
            client_ref=sms.delivery_id,
            type=None if is_gsm7(sms.text) else "unicode",
            status_report_req=True,
        )
    except ValidationError as error:
        raise unsendable(error) from None


def classify(error: BaseException, *, timeout: int, host: str) -> CarrierError:
    """Turn whatever the SDK (or `requests` under it) raised into a carrier error."""
    if isinstance(error, PartialFailureError):
        return _partial_failure(error.response)
    if isinstance(error, SmsError):
        match = _SMS_ERROR.search(str(error))
        code, text = (match.group(1), match.group(2)) if match else ("unknown", str(error))
        return _status_error(code, text)
    if isinstance(error, HttpRequestError):
        return _http_error(error)
    if transport := transport_error(error, timeout=timeout, host=host):
        return transport
    if isinstance(error, KeyError | TypeError | ValueError):
        return TransientCarrierError("Vonage sent an answer that could not be read", "bad-answer")
    if isinstance(error, CarrierError):
        return error
    return TransientCarrierError(f"Unexpected error talking to Vonage ({type(error).__name__})")


def _status_error(code: str, vonage_text: str) -> CarrierError:
    explained = STATUS_TEXT.get(code, "Vonage refused the message")
    detail = vonage_text.strip()
    message = f"{explained} (Vonage status {code}" + (f": {detail})" if detail else ")")
    kind = TransientCarrierError if code in TRANSIENT_STATUSES else PermanentCarrierError
    return kind(message, code)


def _partial_failure(response: Any) -> CarrierError:
    messages = response.get("messages", []) if isinstance(response, dict) else []
    failed = [part for part in messages if str(part.get("status")) != "0"]
    if not failed:
        return TransientCarrierError("Vonage reported a partly failed message", "partial")
    total = len(messages)
    codes = sorted({str(part.get("status")) for part in failed})
    first = _status_error(codes[0], str(failed[0].get("error-text", "")))
    permanent = [code for code in codes if code not in TRANSIENT_STATUSES]
    message = f"{len(failed)} of {total} parts failed: {first.message}"
    if permanent:
        return PermanentCarrierError(message, permanent[0])
    return TransientCarrierError(message, codes[0])


def _http_error(error: HttpRequestError) -> CarrierError:
    status = error.response.status_code
    code = str(status)
    if isinstance(error, RateLimitedError):
        return TransientCarrierError("Vonage rate-limited the request (HTTP 429)", code)
    if isinstance(error, ServerError) or status >= 500 or status == 408:
        return TransientCarrierError(f"Vonage had a server error (HTTP {status})", code)
    if isinstance(error, AuthenticationError):
        return PermanentCarrierError(
            "Vonage rejected the credentials (HTTP 401): check VONAGE_API_KEY and "
            "VONAGE_API_SECRET",
            code,
        )
    if isinstance(error, ForbiddenError):
        return PermanentCarrierError("Vonage refused the request (HTTP 403)", code)
    return PermanentCarrierError(f"Vonage refused the request (HTTP {status})", code)

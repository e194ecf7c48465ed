"""Vonage SMS webhooks: check their signature and read them into InboundSms / Receipt.

Vonage sends the same fields as a GET query string, a POST form or a POST JSON body,
depending on the account's settings; callers hand this module a flat dict of strings.
With a signature secret configured, every webhook must carry `sig` and a recent
`timestamp`: md5hash (md5 of the sorted parameters followed by the secret) is checked
here, the HMAC methods by the SDK's own code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vonage_http_client import Auth

from ..errors import InvalidNumber, ProxyError
from ..phone import parse_number
from . import InboundSms, Receipt, normalise_status

MAX_ID_LENGTH = 64
MAX_CONCAT_PARTS = 255
MAX_REF_LENGTH = 32
# Message.sender_number and InboundPart.sender_number hold this many characters.
MAX_SENDER_LENGTH = 20


class SignatureRejected(ProxyError):
    status = 401
    code = "bad_signature"


class MalformedWebhook(ProxyError):
    status = 400
    code = "malformed_webhook"


def flatten(raw: Mapping[str, Any]) -> dict[str, str]:
    """JSON bodies may carry numbers or booleans; signatures and parsing want text."""
    flat: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if isinstance(value, bool):
            flat[str(key)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            flat[str(key)] = str(value)
        else:
            raise MalformedWebhook(f"Field {key!r} must be a string, not {type(value).__name__}")
    return flat


def verify_signature(
    params: Mapping[str, str],
    *,
    secret: str,
    method: str,
    max_skew_seconds: int,
    api_key: str | None = None,
    now: float | None = None,
) -> None:
    """Raise SignatureRejected unless `params` carry a valid, recent signature."""
    signature = params.get("sig", "")
    if not signature:
        raise SignatureRejected(
            "The webhook is not signed (no 'sig'), and signed webhooks are required"
        )
    raw_timestamp = params.get("timestamp", "")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureRejected("The signed webhook has no valid 'timestamp'") from None
    skew = abs((time.time() if now is None else now) - timestamp)
    if skew > max_skew_seconds:
        raise SignatureRejected(
            f"The signature's timestamp is {int(skew)} s away from our clock "
            f"(at most {max_skew_seconds} s allowed): a replay, or a clock to fix"
        )
    unsigned = {key: value for key, value in params.items() if key != "sig"}
    if method == "md5hash":
        valid = hmac.compare_digest(signature.lower(), md5hash(unsigned, secret))
    else:
        # The SDK wants an api_key beside a signature secret, but does not sign with it.
        auth = Auth(api_key=api_key or "smsproxy", signature_secret=secret, signature_method=method)
        valid = auth.check_signature({**unsigned, "sig": signature})
    if not valid:
        raise SignatureRejected(
            f"The webhook's signature does not match ({method}): check "
            "VONAGE_SIGNATURE_SECRET and VONAGE_SIGNATURE_METHOD against the Vonage dashboard"
        )


def md5hash(params: Mapping[str, str], secret: str) -> str:
    """Vonage's legacy signature: md5 over `&key=value` for the sorted parameters (with
    '&' and '=' in values replaced by '_'), followed by the secret."""
    digest = hashlib.md5(usedforsecurity=False)
    for key in sorted(params):
        value = params[key].replace("&", "_").replace("=", "_")
        digest.update(f"&{key}={value}".encode())
    digest.update(secret.encode())
    return digest.hexdigest()


def parse_inbound(params: Mapping[str, str]) -> InboundSms:
    """An inbound-SMS webhook as an InboundSms; MalformedWebhook says what is wrong."""
    missing = [name for name in ("msisdn", "to", "messageId") if not params.get(name)]
    if missing:
        raise MalformedWebhook(f"The inbound SMS webhook lacks {', '.join(missing)}")
    sender = _sender(params["msisdn"])
    to = _number(params["to"], "to")
    message_id = _message_id(params["messageId"])
    concat_ref = concat_total = concat_part = None
    if params.get("concat", "").lower() == "true":
        concat_ref = params.get("concat-ref", "")
        if not concat_ref or len(concat_ref) > MAX_REF_LENGTH:
            raise MalformedWebhook("concat-ref must be 1 to 32 characters in a multipart SMS")
        concat_total = _integer(params, "concat-total", 1, MAX_CONCAT_PARTS)
        concat_part = _integer(params, "concat-part", 1, concat_total)
    return InboundSms(
        sender=sender,
        to=to,
        carrier_message_id=message_id,
        text=params.get("text", ""),
        received_at=_message_time(params.get("message-timestamp")),
        concat_ref=concat_ref,
        concat_total=concat_total,
        concat_part=concat_part,
        carrier_api="sms",
    )


def parse_receipt(params: Mapping[str, str]) -> Receipt:
    """A delivery-receipt webhook as a Receipt. Unrecognised statuses count as unknown."""
    missing = [name for name in ("messageId", "status") if not params.get(name)]
    if missing:
        raise MalformedWebhook(f"The delivery receipt lacks {', '.join(missing)}")
    extra = {key: params[key] for key in ("network-code", "price", "scts") if params.get(key)}
    return Receipt(
        carrier_message_id=_message_id(params["messageId"]),
        status=normalise_status(params["status"]),
        error_code=params.get("err-code") or None,
        client_ref=params.get("client-ref") or None,
        extra=extra,
    )


def _number(raw: str, name: str) -> str:
    try:
        return parse_number(raw)
    except InvalidNumber as error:
        # The message quotes the value: only the field's name and the reason go back.
        reason = error.message.split("' ", 1)[-1]
        raise MalformedWebhook(
            f"{name} is not a phone number in international form: {reason}"
        ) from None


def _sender(raw: str, name: str = "msisdn") -> str:
    """The sender in E.164, or a sender ID as sent: alphanumeric ("VONAGE", "MyBank")
    or a short code ("72404").

    A sender ID cannot be answered, but refusing its webhook would only make Vonage
    retry it for a day: it is kept (routing never forwards or answers it).
    """
    try:
        return _number(raw, name)
    except MalformedWebhook:
        value = raw.strip()
        named = value.isprintable() and any(ch.isalpha() for ch in value)
        short_code = value.isdigit() and 3 <= len(value) <= 8
        if not (named or short_code):
            raise
        return value[:MAX_SENDER_LENGTH].rstrip()


def _message_id(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > MAX_ID_LENGTH:
        raise MalformedWebhook(f"messageId must be 1 to {MAX_ID_LENGTH} characters")
    return value


def _integer(params: Mapping[str, str], name: str, low: int, high: int) -> int:
    try:
        value = int(params.get(name, ""))
    except ValueError:
        raise MalformedWebhook(f"{name} must be a whole number in a multipart SMS") from None
    if not low <= value <= high:
        raise MalformedWebhook(f"{name} must be between {low} and {high}, got {value}")
    return value


def _message_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None

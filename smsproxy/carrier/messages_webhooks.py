"""Vonage Messages API webhooks: check their signed token, read them into InboundSms /
Receipt.

Vonage posts JSON: inbound messages and message statuses. Each carries
`Authorization: Bearer <JWT>`, signed HS256 with the account's signature secret
(whatever signature method the account names for the SMS API), whose `payload_hash`
claim is the sha256 of the body and whose `iat` says when it was signed.

Vonage answers a webhook that is not acknowledged by holding back and retrying every
Messages API callback of the API key, every inbound SMS included, for up to 24 hours.
So whatever can be read is read and acknowledged, even when it is not for a chat (a
WhatsApp message, a picture): it is kept for staff, never forwarded or answered, and
nothing queues behind it. Refusal (MalformedWebhook, 400) is kept for what cannot be
read at all; a forgery is SignatureRejected (401).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt

from . import InboundSms, Receipt
from .vonage_clients import said_by_vonage
from .webhooks import (
    MAX_ID_LENGTH,
    MAX_SENDER_LENGTH,
    MalformedWebhook,
    SignatureRejected,
    _number,
    _sender,
)

# Messages API statuses in the receipt vocabulary of the SMS API path.
STATUSES = {
    "submitted": "accepted",  # handed to the network, not on the handset yet
    "delivered": "delivered",
    "read": "delivered",  # channels with read receipts; read implies delivered
    "rejected": "rejected",  # by Vonage or the network (invalid, barred, TTL ran out)
    "undeliverable": "failed",  # the network could not deliver it
}
_SURROGATE = re.compile("[\ud800-\udfff]")


def verify_token(
    authorization: str | None,
    body: bytes,
    *,
    secret: str | None,
    allow_unsigned: bool,
    max_skew_seconds: int,
    now: float | None = None,
) -> dict[str, Any] | None:
    """The verified claims of a webhook's token, or None when it is let in unchecked
    (no secret, and unsigned webhooks allowed); SignatureRejected says what is wrong."""
    if not secret:
        if allow_unsigned:
            return None
        raise SignatureRejected(
            "Messages API webhooks cannot be checked without VONAGE_SIGNATURE_SECRET: set it "
            "to the account's signature secret (Vonage dashboard, API settings), or set "
            "VONAGE_WEBHOOKS_UNSIGNED=allow to accept them unchecked"
        )
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignatureRejected(
            "The webhook carries no signed token (Authorization: Bearer ...), and signed "
            "webhooks are required"
        )
    claims = _decode(token.strip(), secret)
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or isinstance(issued, bool):
        raise SignatureRejected("The webhook's token has no valid 'iat' (issued at) claim")
    skew = (time.time() if now is None else now) - issued
    if abs(skew) > max_skew_seconds:
        when = f"{int(skew)} s ago" if skew > 0 else f"{int(-skew)} s ahead of our clock"
        raise SignatureRejected(
            f"The webhook's token was issued {when} (at most {max_skew_seconds} s allowed): "
            "a replay, or a clock to fix"
        )
    expected = claims.get("payload_hash")
    if not isinstance(expected, str) or not expected:
        raise SignatureRejected("The webhook's token has no 'payload_hash' claim for its body")
    if not hmac.compare_digest(expected.lower(), hashlib.sha256(body).hexdigest()):
        raise SignatureRejected(
            "The webhook's body does not match its token's payload_hash: it was altered"
        )
    return claims


def _decode(token: str, secret: str) -> dict[str, Any]:
    # What vonage_jwt.verify_signature does (jwt.decode, HS256 only), but with our own
    # iat check: the SDK helper allows no leeway, so a token issued a second "after" our
    # clock (Vonage's clock a little ahead, iat rounded down) would be refused as not yet
    # valid, and with it every webhook Vonage queues behind that one.
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_iat": False})
    except jwt.InvalidSignatureError:
        raise SignatureRejected(
            "The webhook's token is not signed with VONAGE_SIGNATURE_SECRET: check it against "
            "the account's signature secret in the Vonage dashboard"
        ) from None
    except jwt.ExpiredSignatureError:
        raise SignatureRejected("The webhook's token has expired: a replay?") from None
    except jwt.InvalidTokenError as error:
        raise SignatureRejected(
            f"The webhook's token is not a valid HS256 JWT ({type(error).__name__})"
        ) from None
    if not isinstance(claims, dict):
        raise SignatureRejected("The webhook's token carries no claims")
    return claims


def load_body(body: bytes) -> dict[str, Any]:
    """The webhook's JSON object; MalformedWebhook says what is wrong with it."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedWebhook("The webhook's body is not UTF-8 text") from None
    except RecursionError:
        raise MalformedWebhook("The webhook's JSON is nested too deeply") from None
    except ValueError:
        raise MalformedWebhook("The webhook's body is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedWebhook("The webhook's JSON body must be an object")
    return value


def parse_inbound_message(payload: Mapping[str, Any]) -> InboundSms:
    """An inbound-message webhook as an InboundSms, whatever its channel and type.

    The Messages API hands over a long SMS whole (`sms.num_messages` counts its parts),
    so nothing here is a part to wait for.
    """
    channel = _word(payload, "channel", "sms")
    message_type = _word(payload, "message_type", "text")
    message_uuid = _message_uuid(payload)
    raw_from, raw_to = _field(payload, "from"), _field(payload, "to")
    if channel == "sms":
        sender, to = _sender(raw_from, "from"), _number(raw_to, "to")
    else:
        # Addresses on other channels need not be phone numbers (a Messenger id).
        sender, to = _address(raw_from, "from"), _address(raw_to, "to")
    return InboundSms(
        sender=sender,
        to=to,
        carrier_message_id=message_uuid,
        text=_content(payload, message_type),
        received_at=_timestamp(payload.get("timestamp")),
        channel=channel,
        message_type=message_type,
        carrier_api="messages",
    )


def parse_message_status(payload: Mapping[str, Any]) -> Receipt:
    """A message-status webhook as a Receipt. Unrecognised statuses count as unknown."""
    message_uuid = _message_uuid(payload)
    raw_status = payload.get("status")
    if not isinstance(raw_status, str) or not raw_status.strip():
        raise MalformedWebhook("The message status webhook lacks status")
    error_code, error_text = _error(payload.get("error"))
    client_ref = payload.get("client_ref")
    extra = {
        "price": _dig(payload, "usage", "price"),
        "currency": _dig(payload, "usage", "currency"),
        "network-code": _dig(payload, "destination", "network_code"),
        "parts": _dig(payload, "sms", "count_total"),
        "channel": _dig(payload, "channel"),
    }
    return Receipt(
        carrier_message_id=message_uuid,
        status=STATUSES.get(raw_status.strip().lower(), "unknown"),
        error_code=error_code,
        client_ref=_clean(client_ref)[:MAX_ID_LENGTH] if isinstance(client_ref, str) else None,
        extra={key: value for key, value in extra.items() if value},
        error_text=error_text,
        # Vonage gathers a long SMS's parts' receipts into one status for the whole.
        whole_message=True,
    )


def _message_uuid(payload: Mapping[str, Any]) -> str:
    value = payload.get("message_uuid")
    if not isinstance(value, str) or not value.strip():
        raise MalformedWebhook("The webhook lacks message_uuid")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise MalformedWebhook(f"message_uuid must be 1 to {MAX_ID_LENGTH} printable characters")
    return value


def _field(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if isinstance(value, dict):
        raise MalformedWebhook(
            f"{name} is an object, as in version 0.1 of the Messages API webhooks: set the "
            "application's Messages webhook version to v1 in the Vonage dashboard"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise MalformedWebhook(f"The inbound message webhook lacks {name}")
    return _clean(value)


def _address(raw: str, name: str) -> str:
    try:
        return _sender(raw, name)
    except MalformedWebhook:
        value = raw.strip()
        if not value.isprintable():
            raise
        return value[:MAX_SENDER_LENGTH]


def _word(payload: Mapping[str, Any], name: str, default: str) -> str:
    value = payload.get(name, default)
    if not isinstance(value, str) or not re.fullmatch(r"[a-z_]{1,32}", value.strip().lower()):
        raise MalformedWebhook(f"{name} must be a word such as {default!r}")
    return value.strip().lower()


def _content(payload: Mapping[str, Any], message_type: str) -> str:
    """The text, or for a picture, a file, a location ... a line saying what came."""
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        raise MalformedWebhook(f"text must be a string, not {type(text).__name__}")
    if message_type == "text":
        return _clean(text or "")
    said = [f"[{message_type}]"]
    content = payload.get(message_type)
    if isinstance(content, dict):
        said += [content[key] for key in ("caption", "name", "url") if _is_text(content.get(key))]
    if text:
        said.append(text)
    return _clean(" ".join(said))


def _error(error: Any) -> tuple[str | None, str | None]:
    """A status's error object as (code, a reason to read), numbers masked."""
    if isinstance(error, str) and error.strip():
        return None, said_by_vonage(_clean(error))
    if not isinstance(error, dict):
        return None, None
    title, detail = error.get("title"), error.get("detail")
    code = None
    if isinstance(title, int) or (isinstance(title, str) and title.strip().isdigit()):
        code, title = str(title).strip(), None
    elif isinstance(error.get("type"), str) and "#" in error["type"]:
        fragment = error["type"].rsplit("#", 1)[1].strip()
        code = fragment[:32] if fragment.isprintable() and fragment else None
    words = [str(word).strip() for word in (title, detail) if _is_text(word)]
    if not words:
        return code, None
    return code, said_by_vonage(_clean(": ".join(words)))


def _dig(payload: Mapping[str, Any], *path: str) -> str | None:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict | Mapping) else None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return _clean(str(value))[:64]
    return None


def _timestamp(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _clean(text: str) -> str:
    # JSON may escape a lone surrogate, which no database stores: kept as U+FFFD.
    return _SURROGATE.sub("\ufffd", text)

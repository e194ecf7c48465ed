"""Vonage's side of the Messages API, for the fake server and for tests.

- `POST /v1/messages` as Vonage checks it: a `Bearer` JWT signed RS256 with the
  application's private key (verified here with its public key), and an SMS body
  (to, from, channel sms, message_type text, text); problems answered as RFC 7807 JSON.
- The webhooks Vonage sends an application (inbound messages, message statuses), signed
  as Vonage signs them: a HS256 JWT in `Authorization` whose `payload_hash` claim is the
  sha256 of the body.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.sms_api import API_KEY

APPLICATION_ID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
NUMBER = re.compile(r"^[1-9]\d{6,14}$")
MAX_TEXT = 3200  # as the SDK's Sms model has it
ENCODINGS = {"text", "unicode", "auto"}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Low balance",
    403: "Forbidden",
    404: "Not Found",
    422: "Invalid params",
    429: "Rate Limit Hit",
    500: "Internal Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
DETAILS = {
    401: "You did not provide correct credentials.",
    402: "This request could not be performed due to your account balance being low.",
    403: "Your account does not have permission to perform this action.",
    422: "The value of one or more parameters is invalid.",
    429: "Please wait, then retry your request",
}


class KeyPair:
    """An application's RSA key pair, as the Vonage dashboard generates one."""

    def __init__(self, directory: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_key = key.public_key()
        self.path = directory / "private.key"
        self.path.write_text(self.private_pem)


@dataclass
class MessagesRequest:
    """One `POST /v1/messages` as the fake saw it, and what it answered."""

    body: dict[str, Any]
    claims: dict[str, Any] | None  # the verified JWT claims; None when refused
    auth_problem: str | None = None
    outcome: str = "pending"  # ok, rejected, throttled, http-500, hang, drop, bad-credentials
    message_ids: list[str] = field(default_factory=list)  # the one message_uuid
    at: float = field(default_factory=time.time)

    @property
    def to(self) -> str:
        return str(self.body.get("to", ""))

    @property
    def sender(self) -> str:
        return str(self.body.get("from", ""))

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))

    @property
    def client_ref(self) -> str | None:
        return self.body.get("client_ref")

    @property
    def encoding(self) -> str | None:
        options = self.body.get("sms")
        return options.get("encoding_type") if isinstance(options, dict) else None

    @property
    def type(self) -> str | None:
        """As the SMS API's `type`: "unicode", or None for plain text."""
        return "unicode" if self.encoding == "unicode" else None


def check_jwt(authorization: str, key: KeyPair, application_id: str) -> tuple[dict | None, str]:
    """The claims of a valid application JWT, or None and why it is refused."""
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or not token:
        return None, "no Bearer token"
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "jti", "application_id"]},
        )
    except jwt.InvalidTokenError as error:
        return None, f"{type(error).__name__}: {error}"
    if claims["application_id"] != application_id:
        return None, "the token is for another application"
    return claims, ""


def invalid_parameters(body: dict[str, Any]) -> list[dict[str, str]]:
    """What Vonage would refuse in an SMS request body."""
    problems = []
    for name in ("to", "from"):
        if not isinstance(body.get(name), str) or not body[name]:
            problems.append({"name": name, "reason": "is required"})
    if isinstance(body.get("to"), str) and body["to"] and not NUMBER.match(body["to"]):
        problems.append({"name": "to", "reason": "must be a number in E.164 format without +"})
    if body.get("channel") != "sms":
        problems.append({"name": "channel", "reason": "must be sms here"})
    if body.get("message_type") != "text":
        problems.append({"name": "message_type", "reason": "must be text for sms"})
    text = body.get("text")
    if not isinstance(text, str) or not text:
        problems.append({"name": "text", "reason": "is required"})
    elif len(text) > MAX_TEXT:
        problems.append({"name": "text", "reason": f"must be at most {MAX_TEXT} characters"})
    options = body.get("sms")
    if options is not None and (
        not isinstance(options, dict) or options.get("encoding_type", "auto") not in ENCODINGS
    ):
        problems.append({"name": "sms.encoding_type", "reason": "must be text, unicode or auto"})
    return problems


def problem(status: int, **extra: Any) -> dict[str, Any]:
    """An RFC 7807 answer as the Messages API gives one."""
    return {
        "type": f"https://developer.vonage.com/api-errors/messages#{status}",
        "title": TITLES.get(status, "Error"),
        "detail": DETAILS.get(status, "Something went wrong."),
        "instance": uuid.uuid4().hex,
        **extra,
    }


# -- webhooks, as Vonage sends them to an application ------------------------------------


def inbound_message(**fields: Any) -> dict[str, Any]:
    """An inbound SMS as the Messages API posts it (numbers without +)."""
    return {
        "channel": "sms",
        "message_uuid": str(uuid.uuid4()),
        "to": "447700900901",
        "from": "447700900101",
        "timestamp": "2025-02-03T12:14:25Z",
        "text": "Where are you?",
        "sms": {"num_messages": "1", "keyword": "WHERE"},
        "usage": {"currency": "EUR", "price": "0.0057"},
        "message_type": "text",
        "context_status": "none",
        **fields,
    }


def message_status(status: str = "delivered", **fields: Any) -> dict[str, Any]:
    """A message status as the Messages API posts it."""
    return {
        "message_uuid": str(uuid.uuid4()),
        "to": "447700900102",
        "from": "447700900901",
        "timestamp": "2025-02-03T12:14:27.000Z",
        "status": status,
        "channel": "sms",
        "client_ref": "dl_0123456789abcdef",
        "usage": {"currency": "EUR", "price": "0.0333"},
        "destination": {"network_code": "23410"},
        "sms": {"count_total": "1"},
        **fields,
    }


def signed_webhook(
    payload: dict[str, Any] | bytes,
    secret: str,
    *,
    iat: int | None = None,
    api_key: str = API_KEY,
    application_id: str = APPLICATION_ID,
    payload_hash: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook signed as Vonage signs them."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    claims = {
        "iat": int(time.time()) if iat is None else iat,
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": payload_hash or hashlib.sha256(body).hexdigest(),
        "api_key": api_key,
        "application_id": application_id,
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    return body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

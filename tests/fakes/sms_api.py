"""Vonage's side of the SMS API (`POST /sms/json`), for the fake server, and its
webhooks signed as Vonage signs them."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

API_KEY = "fake-key"
API_SECRET = "fake-secret"

ERROR_TEXT = {
    "1": "Throttled",
    "2": "Missing to param",
    "3": "Invalid to param",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "6": "Invalid Message",
    "7": "Number barred",
    "8": "Partner account barred",
    "9": "Partner quota violation",
    "15": "Illegal Sender Address - rejected",
    "29": "Non-Whitelisted Destination - rejected",
}
# Counted on their own so the fake does not share the app's GSM-7 code.
_GSM_EXTENSION = set("\f^{}\\[~]|€")


def count_parts(text: str, unicode: bool) -> int:
    if unicode:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    else:
        units = len(text) + sum(char in _GSM_EXTENSION for char in text)
        single, part = 160, 153
    return 1 if units <= single else -(-units // part)


@dataclass
class SmsRequest:
    """One request as the fake saw it, and what it answered."""

    form: dict[str, str]
    api_key: str | None
    api_secret: str | None
    outcome: str = "pending"  # ok, rejected, throttled, http-500, hang, drop, bad-credentials
    message_ids: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)

    @property
    def to(self) -> str:
        return self.form.get("to", "")

    @property
    def sender(self) -> str:
        return self.form.get("from", "")

    @property
    def text(self) -> str:
        return self.form.get("text", "")

    @property
    def type(self) -> str | None:
        return self.form.get("type")

    @property
    def client_ref(self) -> str | None:
        return self.form.get("client-ref")

    @property
    def status_report_req(self) -> bool:
        return self.form.get("status-report-req", "").lower() in {"1", "true"}


def accept(request: SmsRequest, parts: int, later: str | None) -> dict[str, Any]:
    """The answer to an accepted request: one message-id per part, or, with `later`, that
    status for every part after the first."""
    messages = []
    for number in range(parts):
        if later is not None and number > 0:
            messages.append({"status": later, "error-text": ERROR_TEXT.get(later, "")})
            continue
        message_id = secrets.token_hex(8).upper()
        request.message_ids.append(message_id)
        messages.append(
            {
                "to": request.to,
                "message-id": message_id,
                "status": "0",
                "remaining-balance": "10.00",
                "message-price": "0.0333",
                "network": "23410",
                **({"client-ref": request.client_ref} if request.client_ref else {}),
            }
        )
    request.outcome = "ok" if later is None else "partial"
    return {"message-count": str(parts), "messages": messages}


def error_answer(status: str) -> dict[str, Any]:
    return {
        "message-count": "1",
        "messages": [{"status": status, "error-text": ERROR_TEXT.get(status, "Error")}],
    }


# -- webhooks, as Vonage sends them to the account's URLs --------------------------------


def signed_params(
    fields: dict[str, str], secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """An SMS API webhook's fields signed with the legacy "MD5 hash" method, as Vonage
    documents it: the sorted parameters as &key=value (with & and = in values turned into
    _), then the secret, md5 hex."""
    params = {
        **fields,
        "timestamp": str(timestamp or int(time.time())),
        "nonce": secrets.token_hex(4),
    }
    joined = "".join(
        "&{}={}".format(key, params[key].replace("&", "_").replace("=", "_"))
        for key in sorted(params)
    )
    params["sig"] = hashlib.md5((joined + secret).encode()).hexdigest()
    return params

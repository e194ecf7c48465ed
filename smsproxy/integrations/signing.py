"""Signing secrets and signatures, as the Standard Webhooks spec has them.

Each endpoint has its own `whsec_` secret (32 random bytes, base64), shown once when
the endpoint is created. It has to be stored readable, to sign with, so it is sealed
(Fernet: AES with an HMAC) under a key derived from SECRET_KEY: a copy of the database
alone then cannot forge events. The price: a new SECRET_KEY makes the sealed secrets
unreadable, and each endpoint then needs a new one (delete and re-create it).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
USER_AGENT = "smsproxy-webhooks/1"


class SecretUnreadable(Exception):
    """A sealed secret that this SECRET_KEY cannot open."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretBox:
    """Seals and opens endpoint secrets with a key derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"smsproxy webhook endpoint secrets v1",
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            raise SecretUnreadable(
                "The endpoint's signing secret cannot be read with this SECRET_KEY (was it "
                "changed?): delete the endpoint and create it again for a new secret"
            ) from None


def signed_headers(secret: str, event_id: str, body: str, now: datetime) -> dict[str, str]:
    """The headers of one attempt: `webhook-id`, `webhook-timestamp` (seconds) and
    `webhook-signature` (v1, HMAC-SHA256 of "id.timestamp.body")."""
    seconds = int(now.timestamp())
    signature = Webhook(secret).sign(event_id, datetime.fromtimestamp(seconds, UTC), body)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }

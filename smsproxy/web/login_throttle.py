"""Failed logins slow an account down, from every address at once; a browser that has
logged in to that account before is never slowed down by them.

The per-address limit (web/auth.py) stops one address from guessing fast; this stops
many addresses guessing one account's password together. LOGIN_ACCOUNT_ATTEMPTS
failures within LOGIN_ACCOUNT_PERIOD_SECONDS are allowed in a burst; after that one
more attempt is let through each period/attempts seconds (3 minutes by default), a
GCRA over failures only, kept in the rate limiter's store (Redis when set, so every
process counts together).

An attacker could keep an account slowed down for as long as they keep guessing, but
never lock its owner out: a successful login leaves a signed cookie naming the
account (a "known device", as OWASP describes it), and attempts carrying it skip this
throttle. A person on a new browser waits minutes, never hours.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import current_app, request
from quart_rate_limiter.store import RateLimiterStoreABC
from werkzeug.sansio.response import Response

DEVICE_COOKIE = "smsproxy_device"
DEVICE_SALT = "smsproxy-known-device"
DEVICE_SECONDS = 180 * 24 * 3600
MAX_DEVICE_ACCOUNTS = 5


@dataclass
class AccountThrottle:
    store: RateLimiterStoreABC
    attempts: int
    period: timedelta

    @property
    def interval(self) -> timedelta:
        return self.period / self.attempts

    def _key(self, username: str) -> str:
        # Hashed: the store's keys are not a list of usernames people typed.
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]
        return f"smsproxy-login-account-{digest}"

    async def wait_seconds(self, username: str, now: datetime | None = None) -> int:
        """How long the account's next attempt must wait; 0 when it may go ahead."""
        now = now or datetime.now(UTC)
        tat = await self._tat(username, now)
        allowed_from = tat - self.period + self.interval
        return max(0, math.ceil((allowed_from - now).total_seconds()))

    async def charge(self, username: str, now: datetime | None = None) -> None:
        """Count an attempt as failed before the password is checked, so that guesses
        sent all at once cannot all slip in before the first is counted."""
        now = now or datetime.now(UTC)
        tat = await self._tat(username, now)
        await self.store.set(self._key(username), max(tat, now) + self.interval)

    async def reset(self, username: str, now: datetime | None = None) -> None:
        """The owner got in: their account's count starts again."""
        await self.store.set(self._key(username), now or datetime.now(UTC))

    async def _tat(self, username: str, now: datetime) -> datetime:
        stored = await self.store.get(self._key(username), now)
        if stored.tzinfo is None:  # the Redis store reads back local time
            stored = stored.astimezone(UTC)
        return max(stored, now)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=DEVICE_SALT)


def known_accounts() -> list[str]:
    """The accounts this browser has logged in to (from its signed device cookie)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        value = _serializer().loads(raw, max_age=DEVICE_SECONDS)
    except BadSignature:
        return []
    if not isinstance(value, list):
        return []
    return [name for name in value if isinstance(name, str)][:MAX_DEVICE_ACCOUNTS]


def is_known_device(username: str) -> bool:
    return username in known_accounts()


def remember_device(response: Response, username: str) -> None:
    names = [username, *(name for name in known_accounts() if name != username)]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(names[:MAX_DEVICE_ACCOUNTS]),
        max_age=DEVICE_SECONDS,
        path="/login",
        httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        samesite="Lax",
    )

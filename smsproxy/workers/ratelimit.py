"""The send rate limit: a token bucket in this process, or one in Redis that every
process sending for the same carrier account shares.

Vonage counts requests per API key, not per process, so with REDIS_URL set the bucket
lives in Redis under a key named after the account and refills by Redis' own clock (the
hosts' clocks never have to agree). Sending must not stop because Redis did: while Redis
is out of reach, each process falls back to a bucket of its own at the full rate, and
Vonage's throttling answers (retried with backoff) cover the overshoot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "smsproxy:send-rate:"
REDIS_TIMEOUT_SECONDS = 0.5
RETRY_REDIS_SECONDS = 5.0  # how long a process sends on its own bucket after a failure


class Limiter(Protocol):
    async def acquire(self) -> None: ...

    async def aclose(self) -> None: ...


class TokenBucket:
    """At most `rate` sends a second, `burst` of them back to back."""

    def __init__(
        self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def reserve(self) -> float:
        """Take a token; return the seconds to wait before using it (0 when one is free).

        Tokens may go negative: each caller queues behind those already waiting.
        """
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        return None


# The same arithmetic as TokenBucket.reserve, atomic in Redis. The stamp is kept in whole
# microseconds and the numbers are formatted by hand so that no float is cut short on the
# way into a hash field. The key outlives its debt by a second, then expires: an absent
# key reads as a full bucket, which is what the refill would have reached by then.
RESERVE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
tokens = math.min(burst, tokens + math.max(0, now - stamp) / 1000000 * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'stamp', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
local wait = 0
if tokens < 0 then
  wait = -tokens / rate
end
return string.format('%.17g', wait)
"""


class RedisTokenBucket:
    """A TokenBucket held in Redis under `key`, shared by every process that uses it."""

    def __init__(
        self,
        url: str,
        key: str,
        rate: float,
        burst: float = 1.0,
        *,
        timeout: float = REDIS_TIMEOUT_SECONDS,
        retry_seconds: float = RETRY_REDIS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.rate = rate
        self.burst = max(1.0, burst)
        self.fallback = TokenBucket(rate, burst, clock)
        self.falling_back = False
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._retry_at = 0.0
        # A short timeout and one retry: a send waits on Redis at most about a second,
        # and then not again until retry_seconds have passed.
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            client_name=f"smsproxy-{os.getpid()}-send-rate",
        )
        self._script = self._redis.register_script(RESERVE_SCRIPT)

    async def reserve(self) -> float:
        """Take a token from the shared bucket (this process's own while Redis is out of
        reach); return the seconds to wait before sending."""
        if self.falling_back and self._clock() < self._retry_at:
            return self.fallback.reserve()
        try:
            answer = await self._script(keys=[self.key], args=[self.rate, self.burst])
            wait = float(answer)
        except (RedisError, OSError, ValueError) as error:
            self._retry_at = self._clock() + self._retry_seconds
            if not self.falling_back:
                self.falling_back = True
                log.warning(
                    "the shared send rate limit in Redis is out of reach (%s); this process "
                    "limits its own sends to %g/s until Redis is back",
                    type(error).__name__,
                    self.rate,
                )
            return self.fallback.reserve()
        if self.falling_back:
            self.falling_back = False
            log.warning("the shared send rate limit in Redis works again")
        return wait

    async def acquire(self) -> None:
        wait = await self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        await self._redis.aclose()


def bucket_key(settings: Settings) -> str:
    """One bucket per carrier account, named by identifiers, never by a secret.

    Vonage counts sends per API key whichever API they go through (the Messages API
    sends SMS through the SMS API underneath), so the API key names the bucket whenever
    it is set, with VONAGE_API=messages too: processes half way through a switch of
    VONAGE_API share one budget. A Messages API deployment that gives only its
    application id gets a bucket per application, the nearest thing to the account it
    can name; two applications of one API key would then each take the full rate, which
    setting VONAGE_API_KEY beside the application id avoids.
    """
    if settings.carrier != "vonage":
        return KEY_PREFIX + "sandbox"
    if settings.vonage_api_key:
        return KEY_PREFIX + settings.vonage_api_key
    return KEY_PREFIX + f"application:{settings.vonage_application_id}"


def make_limiter(settings: Settings) -> Limiter:
    """The limiter the sender uses: shared through Redis when REDIS_URL is set."""
    if settings.redis_url:
        return RedisTokenBucket(
            settings.redis_url, bucket_key(settings), settings.send_rate_per_second
        )
    return TokenBucket(settings.send_rate_per_second)

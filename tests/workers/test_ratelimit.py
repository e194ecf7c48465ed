"""The send rate limit shared through the real Redis: two limiters stand for two processes.

Rates are tiny (one token per 1000 s) so the waits the limiters compute are exact to well
within the tolerances however slowly the machine runs; nothing here times real sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from smsproxy.config import Settings
from smsproxy.models import Delivery, DeliveryKind
from smsproxy.outbox.enqueue import enqueue
from smsproxy.runtime import Runtime
from smsproxy.workers import ratelimit
from smsproxy.workers.ratelimit import RedisTokenBucket, TokenBucket, bucket_key, make_limiter
from tests.conftest import REDIS_URL, make_settings, need_service
from tests.server import free_port

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

SLOW = 0.001  # tokens a second: the second send waits 1000 s


@pytest.fixture
def redis_url() -> str:
    return need_service("Redis", REDIS_URL, "REDIS_URL")


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    # Tests (and other test runs) share one Redis: a key prefix each keeps them apart.
    value = f"smsproxy:test:{uuid.uuid4().hex}:send-rate:"
    monkeypatch.setattr(ratelimit, "KEY_PREFIX", value)
    return value


@pytest.fixture
async def admin(redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def make_bucket(
    redis_url: str, prefix: str
) -> AsyncIterator[Callable[..., RedisTokenBucket]]:
    made: list[RedisTokenBucket] = []

    def make(
        name: str = "acct", rate: float = SLOW, *, url: str | None = None, **options: Any
    ) -> RedisTokenBucket:
        bucket = RedisTokenBucket(url or redis_url, prefix + name, rate, **options)
        made.append(bucket)
        return bucket

    yield make
    for bucket in made:
        await bucket.aclose()


async def tokens_in_redis(admin: Redis, key: str) -> float:
    value = await admin.hget(key, "tokens")
    assert value is not None, f"no bucket at {key}"
    return float(value)


async def redis_micros(admin: Redis) -> int:
    seconds, micros = await admin.time()
    return int(seconds) * 1_000_000 + int(micros)


async def test_two_processes_share_one_budget(
    make_bucket: Callable[..., RedisTokenBucket], admin: Redis
) -> None:
    one, two = make_bucket(), make_bucket()

    waits = [await one.reserve(), await two.reserve(), await one.reserve(), await two.reserve()]

    # Each queues behind the other's sends: 1000 s apart, as one process would be.
    assert waits == pytest.approx([0, 1000, 2000, 3000], abs=1)
    assert await tokens_in_redis(admin, one.key) == pytest.approx(-3, abs=0.01)
    # The key lives until its debt is paid off (4000 s), then a second more.
    assert 3_990_000 < await admin.pttl(one.key) <= 4_001_000
    assert not one.falling_back and not two.falling_back


async def test_refill_follows_redis_clock_up_to_the_burst(
    make_bucket: Callable[..., RedisTokenBucket], admin: Redis
) -> None:
    bucket = make_bucket(rate=1, burst=3)
    now = await redis_micros(admin)

    # Ten seconds of Redis time refill a debt of 2 and stop at the burst of 3.
    await admin.hset(bucket.key, mapping={"tokens": -2, "stamp": now - 10_000_000})
    assert await bucket.reserve() == 0
    assert await tokens_in_redis(admin, bucket.key) == pytest.approx(2)

    # Two seconds refill only two tokens of a debt of 5: the next send waits 4 s.
    await admin.hset(bucket.key, mapping={"tokens": -5, "stamp": now - 2_000_000})
    assert await bucket.reserve() == pytest.approx(4, abs=0.5)
    assert await tokens_in_redis(admin, bucket.key) == pytest.approx(-4, abs=0.5)


async def test_accounts_have_buckets_of_their_own(
    make_bucket: Callable[..., RedisTokenBucket], admin: Redis
) -> None:
    first, second = make_bucket("first"), make_bucket("second")

    assert await first.reserve() == 0
    assert await first.reserve() == pytest.approx(1000, abs=1)
    assert await second.reserve() == 0

    assert await tokens_in_redis(admin, first.key) == pytest.approx(-1, abs=0.01)
    assert await tokens_in_redis(admin, second.key) == pytest.approx(0, abs=0.01)


async def forward(port: int, target_host: str, target_port: int) -> asyncio.Server:
    """A TCP relay to Redis on `port`: Redis coming back at an address that was dead."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(target_host, target_port)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    return await asyncio.start_server(relay, "127.0.0.1", port)


async def test_unreachable_redis_falls_back_to_this_process_and_back(
    make_bucket: Callable[..., RedisTokenBucket],
    admin: Redis,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = urlsplit(redis_url)
    if target.scheme != "redis":
        pytest.skip("the relay speaks plain TCP; REDIS_URL is not redis://host:port")
    port = free_port()  # nothing listens there: Redis is down
    bucket = make_bucket(url=f"redis://127.0.0.1:{port}{target.path}", retry_seconds=0)

    with caplog.at_level(logging.INFO, logger="smsproxy.workers.ratelimit"):
        waits = [await bucket.reserve() for _ in range(3)]
        assert bucket.falling_back
        # The process's own bucket at the same rate: sending goes on, spaced as before.
        assert waits == pytest.approx([0, 1000, 2000], abs=1)
        assert await admin.exists(bucket.key) == 0

        relay = await forward(port, target.hostname or "127.0.0.1", target.port or 6379)
        try:
            assert await bucket.reserve() == 0  # the shared bucket, still full
        finally:
            relay.close()
    assert not bucket.falling_back
    assert await tokens_in_redis(admin, bucket.key) == pytest.approx(0, abs=0.01)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "out of reach" in warnings[0] and "ConnectionError" in warnings[0]
    assert "works again" in warnings[1]


async def test_a_dead_redis_is_not_asked_again_until_the_retry_time(
    make_bucket: Callable[..., RedisTokenBucket], admin: Redis, redis_url: str
) -> None:
    target = urlsplit(redis_url)
    if target.scheme != "redis":
        pytest.skip("the relay speaks plain TCP; REDIS_URL is not redis://host:port")
    clock = [0.0]
    port = free_port()
    bucket = make_bucket(
        url=f"redis://127.0.0.1:{port}{target.path}", retry_seconds=5, clock=lambda: clock[0]
    )
    assert await bucket.reserve() == 0
    relay = await forward(port, target.hostname or "127.0.0.1", target.port or 6379)
    try:
        clock[0] = 4.9  # Redis is back, but no send waits on a connect before 5 s
        # The process's own bucket, on the same clock: 4.9 s of the 1000 s went by.
        assert await bucket.reserve() == pytest.approx(995.1)
        assert await admin.exists(bucket.key) == 0
        clock[0] = 5.1
        assert await bucket.reserve() == 0
        assert await admin.exists(bucket.key) == 1
    finally:
        relay.close()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"carrier": "sandbox"}, "sandbox"),
        ({"vonage_api_key": "abc123", "vonage_api_secret": "very-secret"}, "abc123"),
        # The Messages API with only an application: a bucket per application.
        ({"vonage_api": "messages", "vonage_application_id": "app-1"}, "application:app-1"),
        # With the API key too, the key: Vonage counts per key, whichever API sends, so
        # processes on either side of a switch of VONAGE_API share the budget.
        (
            {
                "vonage_api": "messages",
                "vonage_application_id": "app-1",
                "vonage_api_key": "abc123",
            },
            "abc123",
        ),
    ],
    ids=["sandbox", "sms-api", "messages-application", "messages-with-key"],
)
def test_bucket_key_names_the_account_never_the_secret(
    settings: dict[str, Any], expected: str, fake_vonage_server: FakeVonage
) -> None:
    if settings.get("vonage_api") == "messages":
        settings = {**settings, "vonage_private_key": str(fake_vonage_server.keys.path)}
    if "carrier" not in settings:
        settings = {**settings, "carrier": "vonage"}
    value = make_settings("sqlite:///unused.db", **settings)
    assert bucket_key(value) == "smsproxy:send-rate:" + expected
    assert "very-secret" not in bucket_key(value)
    assert "PRIVATE KEY" not in bucket_key(value)


async def test_limiter_is_shared_only_with_redis_url() -> None:
    local = make_limiter(make_settings("sqlite:///unused.db"))
    shared = make_limiter(make_settings("sqlite:///unused.db", redis_url="redis://127.0.0.1:1/0"))
    try:
        assert type(local) is TokenBucket
        assert isinstance(shared, RedisTokenBucket)
        assert shared.key == "smsproxy:send-rate:sandbox"
    finally:
        await shared.aclose()


# -- the sender ------------------------------------------------------------------------


def vonage_settings(database_url: str, fake: FakeVonage, **overrides: Any) -> Settings:
    values = {**fake.settings(), "vonage_timeout_seconds": 0.5, "send_rate_per_second": SLOW}
    return make_settings(database_url, **{**values, **overrides})


async def queue_sms(rt: Runtime, count: int) -> None:
    async with rt.db.transaction() as session:
        for number in range(count):
            await enqueue(
                session,
                Delivery(
                    kind=DeliveryKind.staff,
                    from_number="+447700900001",
                    to_number=f"+44770090020{number}",
                    body="Your driver is outside",
                ),
            )


async def test_sender_takes_its_tokens_from_the_shared_bucket(
    database_url: str, fake_vonage: FakeVonage, redis_url: str, prefix: str, admin: Redis
) -> None:
    rt = Runtime(vonage_settings(database_url, fake_vonage, redis_url=redis_url), background=False)
    await rt.start()
    key = prefix + fake_vonage.api_key
    try:
        await queue_sms(rt, 2)
        task = asyncio.create_task(rt.run_sender())
        try:
            async with asyncio.timeout(10):
                while not await admin.exists(key) or await tokens_in_redis(admin, key) > -0.5:
                    await asyncio.sleep(0.02)
            await asyncio.to_thread(fake_vonage.wait_for, 1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await rt.stop()

    # Both sends took a token from the account's bucket; the second waits its turn.
    assert await tokens_in_redis(admin, key) == pytest.approx(-1, abs=0.01)
    assert len(fake_vonage.requests) == 1


async def test_sender_keeps_sending_when_redis_is_down(
    database_url: str, fake_vonage: FakeVonage
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    rt = Runtime(
        vonage_settings(database_url, fake_vonage, send_rate_per_second=1000), background=False
    )
    await rt.start()
    limiter = RedisTokenBucket(down, "smsproxy:test:down", 1000)
    try:
        await queue_sms(rt, 3)
        assert await rt.sender.run_round(limiter) == 3
    finally:
        await limiter.aclose()
        await rt.stop()
    assert limiter.falling_back
    assert len(fake_vonage.sent) == 3

"""Logins throttled per account as well as per address, without locking the owner out;
logins, failed logins and logouts in the audit log."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from quart_rate_limiter.store import MemoryStore
from sqlmodel import col, select

from smsproxy.config import Settings
from smsproxy.models import AuditEvent
from smsproxy.web.login_throttle import DEVICE_COOKIE, AccountThrottle
from tests.conftest import (
    REDIS_URL,
    STAFF_PASSWORD,
    add_staff,
    csrf_post,
    make_settings,
    need_service,
)
from tests.guarded import login, rt, start_app

ADDRESSES = [{"client": (f"203.0.113.{n}", 40000)} for n in range(1, 6)]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    async for value in start_app(settings):
        yield value


async def audit_log(app: Quart) -> list[AuditEvent]:
    async with rt(app).db.read() as session:
        return list((await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all())


async def test_guesses_from_many_addresses_slow_the_account_down(app: Quart) -> None:
    await add_staff(app, "admin", "admin")
    # Five addresses, each well inside its own limit of ten a minute, guess together.
    answers = []
    for attempt in range(10):
        client = app.test_client()
        scope = ADDRESSES[attempt % 5]
        answers.append(await login(client, "admin", f"guess {attempt}", scope_base=scope))
    assert [a.status_code for a in answers] == [400] * 5 + [429] * 5

    # Even the right password waits, from a browser that never logged in here.
    refused = await login(app.test_client(), "admin", STAFF_PASSWORD, scope_base=ADDRESSES[0])
    html = await refused.get_data(as_text=True)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 170 <= wait <= 180  # one attempt per 15 min / 5
    assert "Too many failed logins for this account. Try again in 3 minutes" in html

    # Another account is not affected.
    await add_staff(app, "bob", "agent")
    assert (await login(app.test_client(), "bob", STAFF_PASSWORD)).status_code == 303


async def test_the_owner_on_a_known_browser_is_never_locked_out(app: Quart) -> None:
    await add_staff(app, "admin", "admin")
    owner = app.test_client()
    first = await login(owner, "admin", STAFF_PASSWORD)
    assert first.status_code == 303
    assert any(c.startswith(DEVICE_COOKIE + "=") for c in first.headers.getlist("Set-Cookie"))
    await csrf_post(owner, "/logout")

    for attempt in range(8):
        await login(app.test_client(), "admin", f"guess {attempt}", scope_base=ADDRESSES[1])
    stranger = await login(app.test_client(), "admin", STAFF_PASSWORD, scope_base=ADDRESSES[2])
    assert stranger.status_code == 429

    assert (await login(owner, "admin", STAFF_PASSWORD)).status_code == 303


async def test_a_forged_device_cookie_counts_for_nothing(app: Quart) -> None:
    await add_staff(app, "admin", "admin")
    for attempt in range(5):
        await login(app.test_client(), "admin", f"guess {attempt}")
    client = app.test_client()
    client.set_cookie("localhost", DEVICE_COOKIE, '["admin"]', path="/login")
    assert (await login(client, "admin", STAFF_PASSWORD)).status_code == 429


async def test_unknown_accounts_are_throttled_alike(app: Quart) -> None:
    """Whether an account exists shows neither in the answers nor in their timing rule."""
    answers = [await login(app.test_client(), "nobody", f"guess {n}") for n in range(6)]
    assert [a.status_code for a in answers] == [400] * 5 + [429]


async def test_logins_failures_and_logouts_are_audited(app: Quart) -> None:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    await login(client, "alice", "not her password", scope_base=ADDRESSES[0])
    await login(client, "mallory", "hunter2", scope_base=ADDRESSES[1])
    await login(client, "alice", STAFF_PASSWORD, scope_base=ADDRESSES[2])
    await csrf_post(client, "/logout")

    entries = [(e.actor, e.action, e.target, e.detail) for e in await audit_log(app)]
    assert entries == [
        (
            "anonymous",
            "staff.login_failed",
            "alice",
            {"address": "203.0.113.1", "reason": "wrong password"},
        ),
        (
            "anonymous",
            "staff.login_failed",
            "mallory",
            {"address": "203.0.113.2", "reason": "unknown user"},
        ),
        ("staff:alice", "staff.login", "alice", {"address": "203.0.113.3"}),
        ("staff:alice", "staff.logout", "alice", {}),
    ]
    assert "hunter2" not in repr(entries) and "not her password" not in repr(entries)


async def test_a_throttled_attempt_is_audited(app: Quart) -> None:
    for attempt in range(6):
        await login(app.test_client(), "admin", f"guess {attempt}", scope_base=ADDRESSES[3])
    last = (await audit_log(app))[-1]
    assert (last.actor, last.action, last.target) == ("anonymous", "staff.login_throttled", "admin")
    assert last.detail == {"address": "203.0.113.4"}


async def test_the_throttle_over_time() -> None:
    throttle = AccountThrottle(MemoryStore(), attempts=5, period=timedelta(minutes=15))
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for n in range(5):
        assert await throttle.wait_seconds("admin", start) == 0, n
        await throttle.charge("admin", start)
    assert await throttle.wait_seconds("admin", start) == 180
    later = start + timedelta(seconds=179)
    assert await throttle.wait_seconds("admin", later) == 1
    later = start + timedelta(seconds=180)
    assert await throttle.wait_seconds("admin", later) == 0
    await throttle.charge("admin", later)
    assert await throttle.wait_seconds("admin", later) == 180  # one more, then wait again
    # Fifteen quiet minutes give the whole burst back.
    quiet = later + timedelta(minutes=15)
    for _ in range(5):
        assert await throttle.wait_seconds("admin", quiet) == 0
        await throttle.charge("admin", quiet)
    await throttle.reset("admin", quiet)
    assert await throttle.wait_seconds("admin", quiet) == 0


async def test_the_account_count_is_shared_by_workers_through_redis(database_url: str) -> None:
    url = need_service("Redis", REDIS_URL, "REDIS_URL")
    # This run's own account and address: Redis outlives the test, and other runs share it.
    account = f"target-{secrets.token_hex(4)}"
    here = {"client": (f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250)}", 40000)}
    settings = make_settings(database_url, redis_url=url)
    async for first in start_app(settings):
        async for second in start_app(settings):
            for attempt in range(5):
                worker = (first, second)[attempt % 2]
                answer = await login(
                    worker.test_client(), account, f"guess {attempt}", scope_base=here
                )
                assert answer.status_code == 400
            refused = await login(second.test_client(), account, "guess 5", scope_base=here)
            assert refused.status_code == 429
            assert 170 <= int(refused.headers["Retry-After"]) <= 180

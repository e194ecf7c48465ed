"""A frozen PostgreSQL (stopped, unreachable, or a lock held for good) turns webhooks
into quick 503s, which the carrier retries, and the app recovers when it thaws."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from quart import Quart
from quart.wrappers import Response

from smsproxy.app import create_app
from smsproxy.runtime import Runtime
from tests.conftest import USE_POSTGRES, make_settings
from tests.fakes.freezable_proxy import FreezableProxy
from tests.helpers import add_numbers, start_chat

pytestmark = pytest.mark.skipif(not USE_POSTGRES, reason="PostgreSQL's timeouts are tested")

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
TIMEOUT = 1.0  # DATABASE_TIMEOUT_SECONDS


async def post_inbound(app: Quart, message_id: str) -> Response:
    fields = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": message_id, "text": "hi"}
    return await app.test_client().post("/webhooks/inbound-sms", form=fields)


def through(proxy: FreezableProxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[FreezableProxy]:
    parts = urlsplit(database_url)
    async with FreezableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as value:
        yield value


async def app_over(url: str) -> Quart:
    app = create_app(make_settings(url, database_timeout_seconds=TIMEOUT), background=False)
    return app


async def test_a_stopped_database_answers_503_within_seconds_and_recovers(
    database_url: str, proxy: FreezableProxy
) -> None:
    app = await app_over(through(proxy, database_url))
    async with app.test_app():
        rt: Runtime = app.extensions["smsproxy"]
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        assert (await post_inbound(app, "BEFORE")).status_code == 204

        proxy.freeze()
        async with asyncio.timeout(6 * TIMEOUT + 5):  # never as long as the freeze
            frozen = await post_inbound(app, "FROZEN")
        proxy.thaw()
        async with asyncio.timeout(30):
            while (after := await post_inbound(app, "AFTER")).status_code != 204:
                await asyncio.sleep(0.2)

    assert frozen.status_code == 503
    assert frozen.headers["Retry-After"] == "5"
    assert after.status_code == 204


async def test_a_lock_held_for_good_answers_503(database_url: str) -> None:
    app = await app_over(database_url)
    async with app.test_app():
        rt: Runtime = app.extensions["smsproxy"]
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        holder = await asyncpg.connect(database_url)
        try:
            locking = holder.transaction()
            await locking.start()
            await holder.execute("LOCK TABLE message IN ACCESS EXCLUSIVE MODE")
            async with asyncio.timeout(6 * TIMEOUT + 5):
                locked = await post_inbound(app, "LOCKED")
            await locking.rollback()
        finally:
            await holder.close()
        after = await post_inbound(app, "UNLOCKED")

    assert locked.status_code == 503
    assert after.status_code == 204

"""A crash loses no integration event: the app is SIGKILLed while a request to an
endpoint is under way, and restarted. Every chat the API acknowledged reaches the
receiver as a signed `chat.created` event, the one cut off included (at least once)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func
from sqlmodel import col, select

from smsproxy.db import Database
from smsproxy.models import WebhookDelivery, WebhookDeliveryStatus
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.receiver import Answer, Received, Receiver
from tests.helpers import add_endpoint, add_numbers, auth, create_api_key
from tests.server import AppServer

pytest_plugins = ["tests.fakes.webhook_receiver"]
pytestmark = pytest.mark.slow

P1 = "+447700900901"


async def prepare(database_url: str, url: str) -> tuple[str, str]:
    """The API key and the endpoint's secret."""
    rt = Runtime(make_settings(database_url), background=False)
    await rt.start()
    try:
        await add_numbers(rt, P1)
        _, secret = await add_endpoint(rt, url, ["chat.created"])
        return await create_api_key(rt), secret
    finally:
        await rt.stop()


def create_chats(server: AppServer, key: str, first: int, count: int) -> list[str]:
    created = []
    for i in range(first, first + count):
        body = {
            "participants": [
                {"number": f"+4477009002{i:02d}", "name": "A"},
                {"number": f"+4477009003{i:02d}", "name": "B"},
            ],
            "intro": False,
        }
        answer = requests.post(
            server.url("/api/v1/chats"), json=body, headers=auth(key), timeout=10
        )
        assert answer.status_code == 201, answer.text
        created.append(answer.json()["id"])
    return created


async def recorded_deliveries(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as session:
            query = select(func.count()).where(
                col(WebhookDelivery.status) == WebhookDeliveryStatus.delivered
            )
            return int((await session.exec(query)).one())
    finally:
        await db.dispose()


def wait_recorded(database_url: str, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while asyncio.run(recorded_deliveries(database_url)) < count:
        assert time.monotonic() < deadline, "the answered events were never recorded"
        time.sleep(0.05)


def chat_of(received: Received) -> str:
    return str(received.payload["data"]["chat"]["id"])


def delivered_chats(receiver: Receiver) -> set[str]:
    return {chat_of(r) for r in receiver.received if r.verified and r.answered == 204}


def test_a_crash_mid_delivery_loses_no_event(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    key, secret = asyncio.run(prepare(database_url, receiver.url("/a")))
    receiver.verify_with("/a", secret)
    receiver.hold()
    receiver.plan("/a", Answer(hang=True))  # the first event's request hangs
    server = AppServer(
        {
            "DATABASE_URL": database_url,
            # The key that sealed the endpoint's secret, or the server could not sign.
            "SECRET_KEY": str(make_settings(database_url).secret_key),
            # Long enough that the hanging request is still waiting when the process is
            # killed, however slow the machine; the lease is 5 s longer.
            "WEBHOOK_TIMEOUT_SECONDS": "8",
            "LOG_LEVEL": "INFO",
        },
        log_dir=tmp_path,
    )
    try:
        server.start()
        chats = create_chats(server, key, 0, 1)
        receiver.wait_for(lambda got: len(got) == 1)  # its request hangs
        chats += create_chats(server, key, 1, 2)
        # The first is hanging in the endpoint, the others were answered.
        receiver.wait_for(lambda got: len(got) >= 3 and len(delivered_chats(receiver)) >= 2)
        assert delivered_chats(receiver) == set(chats[1:]), server.log_tail()
        # Killed once their outcome is recorded, so that only the hanging one is cut off
        # (an event answered but not yet recorded would rightly go again).
        wait_recorded(database_url, 2)
        [hanging] = [r for r in receiver.received if chat_of(r) == chats[0]]
        assert hanging.answered is None  # still under way: the kill cuts it off
        server.kill()
        receiver.release()

        server.start()
        chats += create_chats(server, key, 3, 2)
        receiver.wait_for(
            lambda got: (
                delivered_chats(receiver) >= set(chats)
                and [chat_of(r) for r in got].count(chats[0]) == 2
            ),
            timeout=60,
        )
    finally:
        receiver.release()
        server.stop()
    assert all(r.verified for r in receiver.received)
    sends = [chat_of(r) for r in receiver.received]
    # The one cut off went twice (once hanging, once after the lease); no other did.
    assert sends.count(chats[0]) == 2
    assert all(sends.count(chat) == 1 for chat in chats[1:])

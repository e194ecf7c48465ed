"""The SDK client pool both Vonage carriers use."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from vonage import Auth, Vonage
from vonage_messages import Sms

from smsproxy.carrier.vonage_clients import ClientPool, whole_seconds

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]


def send(client: Vonage) -> str:
    message = Sms(to="447700900123", from_="447700900001", text="hello")
    return client.messages.send(message).message_uuid


async def test_a_cancelled_call_does_not_hand_its_client_to_the_next(
    fake_vonage: FakeVonage,
) -> None:
    auth = Auth(application_id=fake_vonage.application_id, private_key=fake_vonage.keys.private_pem)
    pool = ClientPool(auth, api_host=fake_vonage.host, timeout=5, concurrency=4)
    await pool.call(send)
    assert pool.idle == 1

    fake_vonage.hang(seconds=1)
    hung = asyncio.create_task(pool.call(send))
    deadline = time.monotonic() + 5
    while len(fake_vonage.requests) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    hung.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hung

    # Its thread still waits on that client's connection: it must not be reused.
    assert pool.idle == 0
    assert await pool.call(send)
    assert pool.idle == 1
    await pool.aclose()
    assert pool.idle == 0


@pytest.mark.parametrize(("seconds", "whole"), [(0.2, 1), (1.0, 1), (1.5, 2), (10, 10)])
def test_timeouts_round_up_to_whole_seconds(seconds: float, whole: int) -> None:
    assert whole_seconds(seconds) == whole

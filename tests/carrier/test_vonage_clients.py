"""The SDK client pool both Vonage carriers use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import requests
from vonage import Auth, Vonage
from vonage_messages import Sms

from smsproxy.carrier.vonage_clients import ClientPool, transport_error, whole_seconds

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


@pytest.fixture(scope="module")
def keep_alive_vonage() -> Iterator[FakeVonage]:
    """A fake that keeps connections open between requests, as Vonage does."""
    from tests.fakes.vonage_server import FakeVonage

    server = FakeVonage(keep_alive=True).start()
    yield server
    server.stop()


def pool_for(fake: FakeVonage, concurrency: int = 1) -> ClientPool:
    auth = Auth(application_id=fake.application_id, private_key=fake.keys.private_pem)
    return ClientPool(auth, api_host=fake.host, timeout=5, concurrency=concurrency)


async def test_sends_one_after_another_share_a_kept_alive_connection(
    keep_alive_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_alive_vonage.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", keep_alive_vonage.ca_path)
    pool = pool_for(keep_alive_vonage)
    try:
        for _ in range(3):
            assert await pool.call(send)
    finally:
        await pool.aclose()

    assert len(keep_alive_vonage.sent) == 3
    assert keep_alive_vonage.connections == 1  # one TLS handshake, not three


async def test_a_kept_alive_connection_that_drops_is_never_posted_again(
    keep_alive_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_alive_vonage.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", keep_alive_vonage.ca_path)
    pool = pool_for(keep_alive_vonage)
    try:
        assert await pool.call(send)
        keep_alive_vonage.drop()  # reads the next request, then resets the connection
        with pytest.raises(requests.ConnectionError) as caught:
            await pool.call(send)
    finally:
        await pool.aclose()

    # The SDK did not quietly post the SMS again on a new connection: the sender
    # decides, and it knows this send is ambiguous.
    assert [request.outcome for request in keep_alive_vonage.requests] == ["ok", "drop"]
    failure = transport_error(caught.value, timeout=5, host=keep_alive_vonage.host)
    assert failure is not None and failure.ambiguous

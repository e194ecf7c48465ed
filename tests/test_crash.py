"""A crash loses nothing: the app is SIGKILLed while webhooks stream in, and restarted.

The app runs under hypercorn as in production, with the Vonage carrier pointed at the
fake Vonage server. Every inbound SMS the app acknowledged (204) must reach the other
participant through Vonage: at least once, and exactly once except the one send that
may have been in flight when the process died (the sender runs one send at a time
here, so at most one can be).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import add_numbers, start_chat
from tests.server import AppServer

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]
pytestmark = pytest.mark.slow

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
BEFORE_KILL = 1.5  # seconds of traffic before the crash, and again after the restart
# A lease (11 s), then a send that may time out under load and wait its patient retry
# (30-60 s) before it goes out.
DELIVERY_WAIT = 90.0


async def prepare(database_url: str) -> None:
    rt = Runtime(make_settings(database_url), background=False)
    await rt.start()
    try:
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
    finally:
        await rt.stop()


class Stream:
    """Webhooks with unique ids, one after another, each retried until acknowledged
    (as Vonage retries), from a thread while the test crashes and restarts the app."""

    def __init__(self, server: AppServer) -> None:
        self.server = server
        self.acknowledged: list[str] = []
        self.unanswered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-stream", daemon=True)
        self._http = requests.Session()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            message_id = f"CRASH{number:05d}"
            fields = {
                "msisdn": ALICE[1:],
                "to": P1[1:],
                "messageId": message_id,
                "text": f"message {message_id}",
                "type": "text",
            }
            try:
                answer = self._http.post(
                    self.server.url("/webhooks/inbound-sms"), data=fields, timeout=10
                )
                status = answer.status_code
            except requests.RequestException:
                status = None
            if status == 204:
                self.acknowledged.append(message_id)
                number += 1
                time.sleep(0.01)
            else:
                self.unanswered += 1
                time.sleep(0.05)


def test_a_crash_loses_no_acknowledged_sms(
    database_url: str, fake_vonage: FakeVonage, tmp_path: Path
) -> None:
    asyncio.run(prepare(database_url))
    server = AppServer(
        {
            "DATABASE_URL": database_url,
            **fake_vonage.environment(),
            "VONAGE_TIMEOUT_SECONDS": "3",
            "SEND_CONCURRENCY": "1",
            "SEND_RATE_PER_SECOND": "500",
            # A send cut off by the crash is claimed again this soon after its claim:
            # as soon as allowed, a lease outlasting a retry's patient send (3 x 3 s + 2 s).
            "SEND_LEASE_SECONDS": "11",
            "LOG_LEVEL": "INFO",
        },
        log_dir=tmp_path,
    )
    stream = Stream(server)
    try:
        server.start()
        stream.start()
        time.sleep(BEFORE_KILL)
        server.kill()
        acknowledged_before_kill = len(stream.acknowledged)
        server.start()
        time.sleep(BEFORE_KILL)
        stream.stop()
        acknowledged = list(stream.acknowledged)
        assert acknowledged_before_kill > 0, server.log_tail()
        assert len(acknowledged) > acknowledged_before_kill, server.log_tail()

        forwarded = wait_for_forwards(fake_vonage, set(acknowledged))
    finally:
        stream.stop()
        server.stop()

    print(
        f"{len(acknowledged)} acknowledged ({acknowledged_before_kill} before the kill), "
        f"{stream.unanswered} unanswered attempts, {sum(forwarded.values())} sent"
    )
    missing = set(acknowledged) - set(forwarded)
    assert not missing, f"acknowledged but never forwarded: {sorted(missing)}"
    twice = {message_id: n for message_id, n in forwarded.items() if n > 1}
    assert len(twice) <= 1 and all(n == 2 for n in twice.values()), twice
    # Only what the app acknowledged, or was committing when it died, goes out.
    extra = set(forwarded) - set(acknowledged)
    assert len(extra) <= 1, extra
    for request in fake_vonage.sent:
        assert (request.to, request.sender) == (BOB[1:], P1[1:])


def wait_for_forwards(fake: FakeVonage, expected: set[str]) -> Counter[str]:
    deadline = time.monotonic() + DELIVERY_WAIT
    while True:
        forwarded = Counter(request.text.removeprefix("message ") for request in fake.sent)
        if expected <= set(forwarded) or time.monotonic() > deadline:
            # A moment more, so a duplicate send would have time to show up.
            time.sleep(0.5)
            return Counter(request.text.removeprefix("message ") for request in fake.sent)
        time.sleep(0.1)

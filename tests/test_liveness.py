"""Under a burst the app keeps answering, and every SMS it acknowledged goes out once.

A liveness check, not a speed check: the app runs under hypercorn as in production
(one process on SQLite, two on PostgreSQL) with the Vonage carrier pointed at the fake,
and 50 connections post inbound-SMS webhooks as fast as it answers for a few seconds.
It fails if any 5 s pass with no answer at all (a stall: requests queued behind a lock
nobody uses), or if an acknowledged SMS reaches the carrier other than exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest

from smsproxy.runtime import Runtime
from tests.benchmarks.client import HttpConnection, ProtocolError
from tests.conftest import USE_POSTGRES, make_settings
from tests.helpers import add_numbers, start_chat
from tests.server import AppServer

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytestmark = pytest.mark.slow

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
CONNECTIONS = 50
LOAD_SECONDS = 3.0
STALL_SECONDS = 5.0
REQUEST_TIMEOUT = 30.0
FORWARD_WAIT = 90.0


@pytest.fixture(scope="module")
def carrier() -> Iterator[FakeVonage]:
    """A fake Vonage of its own that keeps connections alive, as Vonage does."""
    from tests.fakes.vonage_server import FakeVonage

    fake = FakeVonage(keep_alive=True).start()
    yield fake
    fake.stop()


async def prepare(database_url: str) -> None:
    rt = Runtime(make_settings(database_url), background=False)
    await rt.start()
    try:
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
    finally:
        await rt.stop()


@dataclass
class Load:
    started: float = 0.0
    ended: float = 0.0
    answers: list[tuple[float, str]] = field(default_factory=list)  # (when, status)
    acknowledged: list[str] = field(default_factory=list)  # texts answered 204

    def longest_silence(self) -> float:
        """The longest stretch with no answer, from the start to the end of the load."""
        times = [self.started, *sorted(when for when, _ in self.answers), self.ended]
        return max(later - earlier for earlier, later in itertools.pairwise(times))


async def burst(port: int) -> Load:
    load = Load(started=time.monotonic())
    deadline = load.started + LOAD_SECONDS
    numbers = iter(range(1_000_000))

    async def connection() -> None:
        http = HttpConnection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                text = f"liveness {next(numbers)}"
                fields = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": text, "text": text}
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT):
                        status = str(await http.post_form("/webhooks/inbound-sms", _form(fields)))
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as error:
                    status = type(error).__name__
                    await http.close()
                load.answers.append((time.monotonic(), status))
                if status == "204":
                    load.acknowledged.append(text)
        finally:
            await http.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    load.ended = time.monotonic()
    return load


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def test_a_burst_of_webhooks_never_stalls_and_each_sms_goes_out_once(
    database_url: str, carrier: FakeVonage, tmp_path: Path
) -> None:
    carrier.reset()
    env = {
        "DATABASE_URL": database_url,
        **carrier.environment(),
        "SEND_RATE_PER_SECOND": "100000",
        "SEND_CONCURRENCY": "16",
    }
    server = AppServer(env, log_dir=tmp_path, workers=2 if USE_POSTGRES else 1)
    server.migrate()
    asyncio.run(prepare(database_url))
    with server:
        load = asyncio.run(burst(server.port))
        acknowledged = set(load.acknowledged)
        deadline = time.monotonic() + FORWARD_WAIT
        while time.monotonic() < deadline:
            forwarded = {request.text for request in carrier.sent}
            if acknowledged <= forwarded:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # a duplicate would follow its first copy about now
        sent = Counter(request.text for request in carrier.sent)
        log = server.log_tail(20)

    statuses = Counter(status for _, status in load.answers)
    summary = f"answers {dict(statuses)}; longest silence {load.longest_silence():.1f} s\n{log}"
    assert acknowledged, summary
    assert load.longest_silence() < STALL_SECONDS, summary
    assert set(statuses) <= {"204", "503"}, summary  # slower under load, never broken
    missing = [text for text in acknowledged if sent[text] == 0]
    assert not missing, f"{len(missing)} acknowledged SMS never forwarded; {summary}"
    twice = {text: count for text, count in sent.items() if count > 1}
    assert not twice, f"forwarded more than once: {twice}; {summary}"
    assert all(request.to == BOB[1:] for request in carrier.sent)

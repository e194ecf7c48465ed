"""The fake Vonage over TLS, in a process of its own, recording when each SMS arrives.

It runs `tests.fakes.vonage_server.FakeVonage` with HTTP keep-alive (the real Vonage
allows it) in a child process, so that it shares a GIL with neither the app nor the load
generator. The parent asks it how many SMS it accepted (cheap, for waiting) and, at the
end, for every accepted SMS: to, from, text and arrival time (`time.time()`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection


@dataclass(frozen=True)
class Forward:
    """One SMS the carrier accepted. Numbers as Vonage gets them: no "+"."""

    to: str
    sender: str
    text: str
    at: float


def _serve(connection: Connection) -> None:
    from tests.fakes.vonage_server import FakeVonage

    fake = FakeVonage(keep_alive=True).start()
    try:
        connection.send(fake.environment())
        while (command := connection.recv()) != "stop":
            if command == "count":
                connection.send(fake.accepted)
            elif isinstance(command, tuple):  # ("count", marker): only SMS whose text has it
                connection.send(sum(command[1] in r.text for r in fake.sent))
            elif command == "records":
                connection.send([(r.to, r.sender, r.text, r.at) for r in fake.sent])
    except EOFError:
        pass
    finally:
        fake.stop()


class FakeCarrier:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child,), name="fake-vonage", daemon=True
        )
        self.environment: dict[str, str] = {}

    def __enter__(self) -> FakeCarrier:
        self._process.start()
        if not self._connection.poll(30):
            raise RuntimeError("the fake Vonage server did not start")
        self.environment = self._connection.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._connection.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def count(self, marker: str | None = None) -> int:
        """SMS accepted so far (only those whose text holds `marker`, if given)."""
        self._connection.send("count" if marker is None else ("count", marker))
        accepted: int = self._connection.recv()
        return accepted

    def records(self) -> list[Forward]:
        self._connection.send("records")
        return [Forward(*item) for item in self._connection.recv()]

    def wait_for(
        self, expected: int, timeout: float, marker: str | None = None, idle: float = 30.0
    ) -> int:
        """Wait until `expected` SMS (holding `marker`) were accepted, `timeout` passed, or
        nothing new came for `idle` seconds (a backlog that stopped moving); the count."""
        deadline = time.monotonic() + timeout
        count = self.count(marker)
        moved_at = time.monotonic()
        while count < expected and time.monotonic() < deadline:
            if time.monotonic() - moved_at > idle:
                break
            time.sleep(0.2)
            now = self.count(marker)
            if now != count:
                count, moved_at = now, time.monotonic()
        return count

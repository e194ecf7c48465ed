"""A real HTTP receiver on 127.0.0.1 for webhook tests: it checks every request's
signature with the `standardwebhooks` library, as an integrator would, and answers as
told (a status, a Retry-After, a hang until released).

    with Receiver() as receiver:
        receiver.verify_with("/a", secret)
        receiver.plan("/a", Answer(503), Answer(204))
        ... events are sent to receiver.url("/a") ...
        receiver.wait_for(lambda got: len(got) >= 2)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

HANG_LIMIT = 60.0  # a held request is answered after this at the latest


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # wait until `release()` (the sender's timeout may come first)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool
    error: str | None
    answered: int | None = None

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def type(self) -> str:
        return str(self.payload["type"])


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._secrets: dict[str, str] = {}
        self._plans: dict[str, deque[Answer]] = {}
        self._defaults: dict[str, Answer] = {}
        self._changed = threading.Condition()
        self._released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def verify_with(self, path: str, secret: str) -> None:
        self._secrets[path] = secret

    def plan(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to `path` so, one each, then as by default."""
        self._plans.setdefault(path, deque()).extend(answers)

    def always(self, path: str, answer: Answer) -> None:
        self._defaults[path] = answer

    def release(self) -> None:
        """Let every held request (and every one to come) answer."""
        self._released.set()

    def hold(self) -> None:
        self._released.clear()

    def on(self, path: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.path == path]

    def wait_for(
        self, done: Callable[[list[Received]], bool], timeout: float = 15.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(list(self.received)):
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [(r.path, r.type, r.answered) for r in self.received]
                    raise AssertionError(f"receiver did not get what was expected: {kinds}")
                self._changed.wait(left)
            return list(self.received)

    def _answer_for(self, path: str) -> Answer:
        plan = self._plans.get(path)
        if plan:
            return plan.popleft()
        return self._defaults.get(path, Answer())

    def _record(self, entry: Received) -> None:
        with self._changed:
            self.received.append(entry)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver._secrets.get(self.path)
                verified, error = False, "no secret registered for this path"
                if secret is not None:
                    try:
                        Webhook(secret).verify(body, headers)
                        verified, error = True, None
                    except WebhookVerificationError as problem:
                        error = str(problem)
                answer = receiver._answer_for(self.path)
                entry = Received(self.path, headers, body, verified, error)
                if answer.hang:
                    receiver._record(entry)
                    receiver._released.wait(HANG_LIMIT)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    return  # the sender gave up waiting
                entry.answered = answer.status
                if not answer.hang:
                    receiver._record(entry)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def __enter__(self) -> Receiver:
        self._released.set()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

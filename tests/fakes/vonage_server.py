"""A fake Vonage REST server: HTTPS on 127.0.0.1, in a thread of the test process.

It answers the SMS API's `POST /sms/json` as Vonage does (form fields in, JSON out, one
message-id per SMS part) and the Messages API's `POST /v1/messages` (a JWT signed with
the application's key, JSON in, one message_uuid out; see messages_api.py), checks the
credentials, records every request, and can be told to misbehave for the next few
requests. Being a real TLS server, the real SDK talks to it as it would to
rest.nexmo.com or api.nexmo.com, and so can an app running in another process:
`.settings()` and `.environment()` say how to point the carrier at it.

Test modules take the fixtures with `pytest_plugins = ["tests.fakes.vonage_server"]`
and ask for `fake_vonage`: one server per test session, reset for every test.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import trustme

from tests.fakes import messages_api
from tests.fakes.messages_api import APPLICATION_ID, KeyPair, MessagesRequest
from tests.fakes.sms_api import (
    API_KEY,
    API_SECRET,
    ERROR_TEXT,
    SmsRequest,
    accept,
    count_parts,
    error_answer,
)


class FakeVonage:
    def __init__(
        self, api_key: str = API_KEY, api_secret: str = API_SECRET, *, keep_alive: bool = False
    ) -> None:
        """`keep_alive`: answer over HTTP/1.1 and keep connections open, as Vonage does;
        by default each request gets a connection of its own (no stale keep-alives)."""
        self.api_key = api_key
        self.api_secret = api_secret
        self.application_id = APPLICATION_ID
        self.requests: list[SmsRequest | MessagesRequest] = []
        self.accepted = 0  # SMS answered "ok": cheaper to poll than `sent`
        self.hang_seconds = 5.0
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0
        self.connections = 0  # TCP connections accepted (kept-alive ones count once)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._release = threading.Event()
        self._dir = tempfile.TemporaryDirectory(prefix="fake-vonage-")
        ca = trustme.CA()
        self.ca_path = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self.keys = KeyPair(Path(self._dir.name))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        # Tests want one request per connection (no stale keep-alives); a benchmark wants
        # the connection reuse the real Vonage allows.
        handler = _KeepAliveHandler if keep_alive else _Handler
        self._server = _TlsServer(("127.0.0.1", 0), handler, context, self)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-vonage", daemon=True
        )
        self.reset()

    def settings(self, api: str = "sms") -> dict[str, Any]:
        """Settings that point the Vonage carrier (on `api`: sms or messages) at this server.

        Webhooks are taken unsigned: the tests using this server post receipts and inbound
        SMS as plain fields; signatures have tests of their own (tests/web/test_webhooks.py).
        """
        if api == "messages":
            return {
                "carrier": "vonage",
                "vonage_api": "messages",
                "vonage_application_id": self.application_id,
                "vonage_private_key": str(self.keys.path),
                "vonage_api_host": self.host,
                "vonage_webhooks_unsigned": "allow",
            }
        return {
            "carrier": "vonage",
            "vonage_api_key": self.api_key,
            "vonage_api_secret": self.api_secret,
            "vonage_rest_host": self.host,
            "vonage_webhooks_unsigned": "allow",
        }

    def environment(self, api: str = "sms") -> dict[str, str]:
        """The same for a server subprocess, with the CA it must trust."""
        names = {name.upper(): str(value) for name, value in self.settings(api).items()}
        return {**names, "REQUESTS_CA_BUNDLE": self.ca_path}

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeVonage:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    def reset(self) -> None:
        """Forget requests and misbehaviour; let any hung request go."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self.requests.clear()
            self.accepted = 0
            self._throttle = 0
            self._http_errors: list[int] = []
            self._hang = 0
            self._slow: list[float] = []
            self._drop = 0
            self.max_in_flight = 0
            self.connections = 0
            self._later_parts: list[str] = []
            self._reject: dict[str, str] = {}

    # -- misbehaviour for the next requests ---------------------------------------

    def throttle(self, count: int = 1) -> None:
        """Answer status 1 (Throttled; HTTP 429 on the Messages API) to the next `count`
        requests."""
        with self._lock:
            self._throttle += count

    def fail_http(self, count: int = 1, status: int = 500) -> None:
        """Answer a bare HTTP error to the next `count` requests."""
        with self._lock:
            self._http_errors.extend([status] * count)

    def hang(self, count: int = 1, seconds: float | None = None) -> None:
        """Read the next `count` requests and say nothing for `seconds`, then hang up."""
        with self._lock:
            self._hang += count
            if seconds is not None:
                self.hang_seconds = seconds

    def slow(self, count: int = 1, seconds: float = 0.3) -> None:
        """Answer the next `count` requests normally, but only after `seconds`."""
        with self._lock:
            self._slow.extend([seconds] * count)

    def drop(self, count: int = 1) -> None:
        """Read the next `count` requests and reset the connection without answering."""
        with self._lock:
            self._drop += count

    def fail_later_parts(self, status: str, count: int = 1) -> None:
        """For the next `count` multipart requests, fail every part after the first."""
        with self._lock:
            self._later_parts.extend([status] * count)

    def reject(self, to: str, status: str = "3") -> None:
        """Answer a per-message `status` to every request for `to` (E.164 or not); the
        Messages API answers HTTP 422 for it (or `status` itself if it is an HTTP one)."""
        with self._lock:
            self._reject[to.removeprefix("+")] = status

    # -- what happened ----------------------------------------------------------------

    @property
    def sent(self) -> list[SmsRequest | MessagesRequest]:
        """The requests Vonage would have sent (every part accepted)."""
        with self._lock:
            return [item for item in self.requests if item.outcome == "ok"]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SmsRequest | MessagesRequest]:
        """Block until `count` SMS were accepted; return them, or fail after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                accepted = [item for item in self.requests if item.outcome == "ok"]
                if len(accepted) >= count:
                    return accepted
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"fake Vonage got {len(accepted)} SMS, not {count}, within {timeout} s"
                    )
                self._changed.wait(left)

    # -- answering (server threads) ------------------------------------------------

    def _arrive(self, request: SmsRequest | MessagesRequest) -> float:
        """Record a request; return how long to sit on it first."""
        with self._changed:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()
            return self._slow.pop(0) if self._slow else 0.0

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _decide(self, request: SmsRequest | MessagesRequest) -> tuple[str, Any]:
        with self._changed:
            try:
                if self._drop:
                    self._drop -= 1
                    request.outcome = "drop"
                    return "drop", None
                if self._hang:
                    self._hang -= 1
                    request.outcome = "hang"
                    return "hang", self._release
                if self._http_errors:
                    status = self._http_errors.pop(0)
                    request.outcome = f"http-{status}"
                    if isinstance(request, MessagesRequest):
                        return "http", (status, messages_api.problem(status))
                    return "http", (status, {"type": "about:blank", "title": "Internal Error"})
                if isinstance(request, MessagesRequest):
                    return self._decide_messages_locked(request)
                return self._decide_sms_locked(request)
            finally:
                self._changed.notify_all()

    def _decide_messages_locked(self, request: MessagesRequest) -> tuple[str, Any]:
        if request.claims is None:
            request.outcome = "bad-credentials"
            return "http", (401, messages_api.problem(401))
        invalid = messages_api.invalid_parameters(request.body)
        if invalid:
            request.outcome = "rejected"
            return "http", (422, messages_api.problem(422, invalid_parameters=invalid))
        if self._throttle:
            self._throttle -= 1
            request.outcome = "throttled"
            return "http", (429, messages_api.problem(429))
        if request.to in self._reject:
            status = self._reject[request.to]
            request.outcome = "rejected"
            if len(status) == 3 and status.isdigit():
                return "http", (int(status), messages_api.problem(int(status)))
            reason = {"name": "to", "reason": f"{ERROR_TEXT.get(status, 'Invalid')} {request.to}"}
            return "http", (422, messages_api.problem(422, invalid_parameters=[reason]))
        message_uuid = str(uuid.uuid4())
        request.message_ids.append(message_uuid)
        request.outcome = "ok"
        return "http", (202, {"message_uuid": message_uuid})

    def _decide_sms_locked(self, request: SmsRequest) -> tuple[str, Any]:
        if (request.api_key, request.api_secret) != (self.api_key, self.api_secret):
            request.outcome = "bad-credentials"
            return "json", error_answer("4")
        if not request.to or not request.sender or not request.text:
            request.outcome = "rejected"
            return "json", error_answer("2")
        if self._throttle:
            self._throttle -= 1
            request.outcome = "throttled"
            return "json", error_answer("1")
        if request.to in self._reject:
            request.outcome = "rejected"
            return "json", error_answer(self._reject[request.to])
        parts = count_parts(request.text, request.type == "unicode")
        later = self._later_parts.pop(0) if parts > 1 and self._later_parts else None
        if later is None:
            self.accepted += 1
        return "json", accept(request, parts, later)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        fake: FakeVonage,
    ) -> None:
        super().__init__(address, handler)
        self.context = context
        self.fake = fake

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake happens here, in the connection's own thread, so one slow
        # client cannot stall the accept loop.
        with self.fake._lock:
            self.fake.connections += 1
        try:
            wrapped = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients that time out or hang up are part of the tests


class _Handler(BaseHTTPRequestHandler):
    server: _TlsServer
    protocol_version = "HTTP/1.0"  # one request per connection: no stale keep-alives

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/sms/json", "/v1/messages"):
            self._answer(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        authorization = self.headers.get("Authorization", "")
        fake = self.server.fake
        request: SmsRequest | MessagesRequest
        if path == "/v1/messages":
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            claims, why = messages_api.check_jwt(authorization, fake.keys, fake.application_id)
            request = MessagesRequest(
                body=body if isinstance(body, dict) else {}, claims=claims, auth_problem=why
            )
        else:
            form = {k: values[-1] for k, values in parse_qs(raw, keep_blank_values=True).items()}
            key, secret = form.get("api_key"), form.get("api_secret")
            if authorization.startswith("Basic "):
                decoded = base64.b64decode(authorization[6:]).decode()
                key, _, secret = decoded.partition(":")
            request = SmsRequest(form=form, api_key=key, api_secret=secret)
        delay = fake._arrive(request)
        try:
            if delay:
                time.sleep(delay)
            self._act(request)
        finally:
            fake._leave()

    def _act(self, request: SmsRequest | MessagesRequest) -> None:
        fake = self.server.fake
        action, value = fake._decide(request)
        if action == "drop":
            self._reset()
        elif action == "hang":
            value.wait(fake.hang_seconds)
            self._reset()
        elif action == "http":
            self._answer(*value)
        else:
            self._answer(200, value)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reset(self) -> None:
        # SO_LINGER 0: close with a TCP reset, as a network failure does.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


class _KeepAliveHandler(_Handler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes; with Nagle's algorithm the body would
    # wait for the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True


@pytest.fixture(scope="session")
def fake_vonage_server() -> Iterator[FakeVonage]:
    server = FakeVonage().start()
    yield server
    server.stop()


@pytest.fixture
def fake_vonage(
    fake_vonage_server: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeVonage]:
    """The fake, reset, with REQUESTS_CA_BUNDLE set so `requests` trusts it."""
    fake_vonage_server.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake_vonage_server.ca_path)
    yield fake_vonage_server
    fake_vonage_server.reset()

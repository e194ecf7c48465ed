"""A keep-alive HTTP client for the app's own interfaces: the JSON API and the login form.

Used for setting things up (numbers, chats) and for timing one request at a time;
the load itself goes through `loadgen`.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')


class HttpError(RuntimeError):
    """An answer other than the one the benchmark needs to go on."""


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Browser:
    """One connection to the app, with a cookie jar and, optionally, an API key."""

    port: int
    api_key: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    _connection: http.client.HTTPConnection | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            started = time.perf_counter()
            try:
                self._connection.request(method, path, body=body, headers=sent)
                response = self._connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed while idle: once more, anew.
                self.close()
                if attempt:
                    raise
                continue
            seconds = time.perf_counter() - started
            for header in response.msg.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            if response.will_close:
                self.close()
            return Answer(response.status, data, seconds)
        raise AssertionError("unreachable")

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def api(self, method: str, path: str, payload: Any = None, expect: int = 200) -> Answer:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        answer = self.request(method, path, body, headers)
        if answer.status != expect:
            raise HttpError(f"{method} {path}: {answer.status} {answer.body[:300]!r}")
        return answer

    def log_in(self, username: str, password: str) -> None:
        """Through the login form, as a person does: its CSRF token, then the POST."""
        page = self.request("GET", "/login")
        token = CSRF_FIELD.search(page.body)
        if page.status != 200 or token is None:
            raise HttpError(f"GET /login: {page.status}, no CSRF token in the form")
        form = urlencode(
            {
                "username": username,
                "password": password,
                "csrf_token": token.group(1).decode(),
                "next": "/chats",
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin}
        answer = self.request("POST", "/login", form, headers)
        if answer.status != 303:
            raise HttpError(f"POST /login: {answer.status} {answer.body[:300]!r}")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

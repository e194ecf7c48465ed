"""Many live-page WebSockets in one process, on asyncio protocols and wsproto (the
library hypercorn itself uses): each subscribes to the chat list and stamps when each
`message.created` frame's bytes arrived."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

CONNECT_AT_ONCE = 100


@dataclass
class Bench:
    clients: int
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    complete: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    def expect(self, body: str) -> asyncio.Future[None]:
        self.latencies[body] = []
        future = self.complete[body] = asyncio.get_running_loop().create_future()
        return future

    def arrived(self, body: str, at: float) -> None:
        if body not in self.sent_at:
            return
        found = self.latencies[body]
        found.append(at - self.sent_at[body])
        if len(found) == self.clients and not self.complete[body].done():
            self.complete[body].set_result(None)


class LiveClient(asyncio.Protocol):
    def __init__(self, host: str, cookie: str, bench: Bench) -> None:
        self.host = host
        self.cookie = cookie
        self.bench = bench
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._parts: list[str] = []
        self._arrived = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = Request(
            host=self.host,
            target="/live",
            extra_headers=[
                (b"cookie", self.cookie.encode()),
                (b"origin", b"http://" + self.host.encode()),
            ],
        )
        transport.write(self.ws.send(request))

    def data_received(self, data: bytes) -> None:
        self._arrived = time.monotonic()
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    self._on_frame(json.loads("".join(self._parts)))
                    self._parts.clear()
            elif isinstance(event, Ping):
                self._write(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                with contextlib.suppress(Exception):
                    self._write(self.ws.send(event.response()))
                self._fail(ConnectionError(f"closed by the server ({event.code})"))
            elif isinstance(event, RejectConnection):
                self._fail(ConnectionError(f"refused with HTTP {event.status_code}"))
            elif not isinstance(event, AcceptConnection):
                continue

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "hello":
            subscribe = {"type": "subscribe", "topic": "chats", "since": None}
            self._write(self.ws.send(TextMessage(json.dumps(subscribe))))
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif frame["type"] == "event" and frame["event"]["name"] == "message.created":
            self.bench.arrived(frame["event"]["data"]["body"], self._arrived)
        elif frame["type"] == "reset":
            raise RuntimeError("the server asked a live page to reload")

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, error: Exception) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._write(self.ws.send(CloseConnection(code=1000)))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)


async def open_clients(port: int, cookie: str, bench: Bench) -> list[LiveClient]:
    loop = asyncio.get_running_loop()
    host = f"127.0.0.1:{port}"
    clients: list[LiveClient] = []
    for start in range(0, bench.clients, CONNECT_AT_ONCE):
        batch = [
            LiveClient(host, cookie, bench)
            for _ in range(start, min(start + CONNECT_AT_ONCE, bench.clients))
        ]
        for client in batch:
            await loop.create_connection(lambda client=client: client, "127.0.0.1", port)  # type: ignore[misc]
        async with asyncio.timeout(60):
            await asyncio.gather(*(client.subscribed for client in batch))
        clients.extend(batch)
    return clients


async def close_clients(clients: list[LiveClient], *, abort: bool = False) -> None:
    """Close as a browser tab does (a close frame), or, with `abort`, drop the TCP
    connections with a reset, as a crashed browser or a lost network does."""
    if not abort:
        for client in clients:
            client.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.gather(*(client.closed for client in clients))
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]

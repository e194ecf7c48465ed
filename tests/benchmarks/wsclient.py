"""Many `/live` WebSocket clients in one process, lean enough not to be what is measured.

Each client does the opening handshake with the login cookie and a same-site Origin,
subscribes to the chat list (`{"type": "subscribe", "topic": "chats", "since": null}`),
and notes the time each `message.created` event arrives, keyed by the number in the
message's text ("fan <n>"). Frames are parsed by hand; nothing but that number is read
out of them, so a thousand sockets cost the client little next to the server.

The parent drives a `LiveClients` child process: connect, measure, disconnect.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import multiprocessing
import os
import re
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .loadgen import HttpConnection, get_request

FAN_TOKEN = re.compile(rb"fan (\d+)")
SUBSCRIBE = b'{"type": "subscribe", "topic": "chats", "since": null}'
CONNECT_AT_ONCE = 50


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as a client must send."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x80 | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    else:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big") if size else 0
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big") if size else b""
    return head + mask + masked


class LiveClient(asyncio.Protocol):
    def __init__(self, request: bytes) -> None:
        self._request = request
        self._buffer = bytearray()
        self._upgraded = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.received: dict[int, float] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the handshake"))
        if not self.gone.done():
            self.gone.set_result(None)

    def data_received(self, data: bytes) -> None:
        at = time.time()
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[: self._buffer.find(b"\r\n")])
            del self._buffer[: end + 4]
            if b" 101 " not in status + b" ":
                self.ready.set_exception(ConnectionError(status.decode(errors="replace")))
                self.close()
                return
            self._upgraded = True
        while len(self._buffer) >= 2:
            opcode, size, start = self._buffer[0] & 0x0F, self._buffer[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(self._buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(self._buffer[2:10], "big"), 10
            if len(self._buffer) < start + size:
                return
            payload = bytes(self._buffer[start : start + size])
            del self._buffer[: start + size]
            self._on_frame(opcode, payload, at)

    def _on_frame(self, opcode: int, payload: bytes, at: float) -> None:
        if opcode == 1:
            if not self.ready.done() and b'"hello"' in payload:
                assert self.transport is not None
                self.transport.write(client_frame(1, SUBSCRIBE))
                self.ready.set_result(None)
            elif b'"message.created"' in payload and (match := FAN_TOKEN.search(payload)):
                self.received.setdefault(int(match.group(1)), at)
        elif opcode == 9 and self.transport is not None:
            self.transport.write(client_frame(10, payload))
        elif opcode == 8:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(OSError):
                self.transport.write(client_frame(8, (1000).to_bytes(2, "big")))
            self.transport.close()


@dataclass(frozen=True)
class Delivery:
    """One webhook's event: when it was sent, and when each client had it (NaN: never)."""

    sent: float
    arrivals: list[float]

    @property
    def to_every_client(self) -> float:
        return max(self.arrivals, default=math.nan) - self.sent


class _Clients:
    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.clients: list[LiveClient] = []
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET /live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()

    async def connect(self, count: int) -> tuple[int, list[str]]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)
        failures: list[str] = []

        async def one() -> None:
            async with gate:
                try:
                    _, client = await loop.create_connection(
                        lambda: LiveClient(self.request), "127.0.0.1", self.port
                    )
                    await asyncio.wait_for(client.ready, 30)
                    self.clients.append(client)
                except (OSError, ConnectionError, TimeoutError) as error:
                    failures.append(str(error) or type(error).__name__)

        await asyncio.gather(*(one() for _ in range(count)))
        return len(self.clients), failures

    async def measure(
        self, targets: list[str], first: int, interval: float, wait: float
    ) -> list[Delivery]:
        """Send webhook `first + i` to targets[i] every `interval` s; wait for the events."""
        connection = await HttpConnection.open("127.0.0.1", self.port)
        sent: dict[int, float] = {}
        for offset, target in enumerate(targets):
            number = first + offset
            sent[number] = time.time()
            status, _ = await connection.request(get_request(self.port, target))
            if not 200 <= status < 300:
                raise RuntimeError(f"the webhook was answered {status}")
            await asyncio.sleep(max(0.0, sent[number] + interval - time.time()))
        connection.close()
        deadline = time.time() + wait
        while time.time() < deadline and not all(
            number in client.received for client in self.clients for number in sent
        ):
            await asyncio.sleep(0.05)
        return [
            Delivery(at, [client.received.get(number, math.nan) for client in self.clients])
            for number, at in sent.items()
        ]

    async def disconnect(self) -> None:
        for client in self.clients:
            client.close()
        if self.clients:
            await asyncio.wait([client.gone for client in self.clients], timeout=30)
        self.clients.clear()


def _serve(pipe: Connection, port: int, cookie: str) -> None:
    async def main() -> None:
        clients = _Clients(port, cookie)
        while (command := pipe.recv())[0] != "stop":
            name, *args = command
            try:
                result: Any = await getattr(clients, name)(*args)
            except Exception as error:  # handed to the parent, which reports it
                result = error
            pipe.send(result)

    asyncio.run(main())


class LiveClients:
    """The client process. Each method blocks until the child has done it."""

    def __init__(self, port: int, cookie: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, port, cookie), daemon=True)

    def _call(self, *command: Any) -> Any:
        self._pipe.send(command)
        result = self._pipe.recv()
        if isinstance(result, Exception):
            raise RuntimeError(f"live clients: {command[0]} failed: {result}")
        return result

    def connect(self, count: int) -> tuple[int, list[str]]:
        result: tuple[int, list[str]] = self._call("connect", count)
        return result

    def measure(
        self, targets: list[str], first: int, interval: float, wait: float
    ) -> list[Delivery]:
        result: list[Delivery] = self._call("measure", targets, first, interval, wait)
        return result

    def disconnect(self) -> None:
        self._call("disconnect")

    def __enter__(self) -> LiveClients:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send(("stop",))
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()

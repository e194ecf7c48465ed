"""A small keep-alive HTTP/1.1 client over asyncio streams, and a load generator on it.

Enough HTTP to POST forms to the app on this machine and read its answers (length,
chunked or 204), with no dependency beyond the standard library.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as this client understands it."""


class HttpConnection:
    """One HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_form(self, path: str, body: bytes) -> int:
        """POST an urlencoded form; return the status once the whole answer is read."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        head = (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            await _skip_chunked(reader)
        elif "content-length" in headers:
            await reader.readexactly(int(headers["content-length"]))
        elif status not in (204, 304):
            await reader.read()  # the body runs to the end of the connection
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _skip_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return
        await reader.readexactly(size + 2)


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of answered requests
    outcomes: Counter[str] = field(default_factory=Counter)  # status code or error name

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def count(self, status: int) -> int:
        return self.outcomes[str(status)]

    def percentile(self, share: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, math.ceil(share * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]


async def post_forms(
    host: str,
    port: int,
    path: str,
    bodies: Iterator[bytes],
    concurrency: int,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """POST every body, `concurrency` at a time (one connection each)."""
    result = LoadResult()

    async def worker() -> None:
        connection = HttpConnection(host, port)
        try:
            for body in bodies:  # shared: each body is taken by one worker
                started = clock()
                try:
                    status = await connection.post_form(path, body)
                except (OSError, asyncio.IncompleteReadError, ProtocolError, ValueError) as error:
                    result.outcomes[type(error).__name__] += 1
                    await connection.close()
                    continue
                result.latencies.append(clock() - started)
                result.outcomes[str(status)] += 1
        finally:
            await connection.close()

    started = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = clock() - started
    return result

"""The load generator: a lean HTTP/1.1 client on asyncio protocols, in processes of its own.

Two shapes of load, both on keep-alive connections opened before the clock starts:

- closed loop (`rate=None`): each connection sends its next request as soon as the
  last one is answered, for `duration` seconds: how much the server can take;
- open loop (`rate=R`): request n is due at start + n/R whatever happens, and waits in
  the generator for a free connection if none is. Its latency counts from when it was
  due, not from when it went out, so a server that stalls is charged for every request
  it held up (no coordinated omission, as in wrk2).

A request still unanswered `grace` seconds after the last was due is given up (status 0).
Each process reports its samples and the CPU it used, so the generator's own ceiling
can be printed next to the figures it produced.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

NO_ANSWER = 0  # given up after the grace period
CONNECTION_ERROR = -1


@dataclass(frozen=True)
class Sample:
    seq: int
    due: float  # when it was meant to go: the send time in a closed loop
    sent: float
    done: float  # NaN when never answered
    status: int  # HTTP status, NO_ANSWER or CONNECTION_ERROR

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency(self) -> float:
        return self.done - self.due


@dataclass(frozen=True)
class LoadSpec:
    port: int
    make_target: Callable[[int], str]  # seq -> path and query; must be picklable
    connections: int
    duration: float
    rate: float | None = None  # None: closed loop
    grace: float = 30.0
    worker: int = 0  # this process's share: seq % workers == worker
    workers: int = 1


@dataclass
class LoadResult:
    spec: LoadSpec
    start: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the generator's own

    @property
    def end(self) -> float:
        return self.start + self.spec.duration

    def acknowledged(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; `request` sends raw bytes, returns (status, keep-alive).

    Only as much HTTP as the servers here speak: a Content-Length or chunked body (read
    and dropped), `Connection: close`."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is None or self._waiter.done():
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).lower()
        if not head.startswith(b"http/1."):
            self._waiter.set_exception(ConnectionError(f"not HTTP: {head[:40]!r}"))
            return
        total = end + 4 + _content_length(head)
        if b"\r\ntransfer-encoding: chunked" in head:
            last = self._buffer.find(b"\r\n0\r\n\r\n", end)
            if last < 0:
                return
            total = last + 7
        if len(self._buffer) < total:
            return
        del self._buffer[:total]
        self._waiter.set_result((int(head[9:12]), b"\r\nconnection: close" not in head))

    async def request(self, raw: bytes) -> tuple[int, bool]:
        assert self._transport is not None
        if self.closed:
            raise ConnectionError("the connection is closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(raw)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _content_length(head: bytes) -> int:
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : stop if stop >= 0 else None])


def get_request(port: int, target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


# -- one process's share ----------------------------------------------------------------


Queue = asyncio.Queue[tuple[int, float] | None]


class _Run:
    def __init__(self, spec: LoadSpec, start: float) -> None:
        self.spec = spec
        self.start = start
        self.samples: list[Sample] = []
        self.in_flight: dict[int, tuple[int, float, float]] = {}  # worker -> seq, due, sent

    async def send(
        self, slot: int, connection: HttpConnection | None, seq: int, due: float
    ) -> HttpConnection | None:
        """Send one request on the slot's connection (reopened if need be)."""
        spec = self.spec
        sent = time.time()
        self.in_flight[slot] = (seq, due, sent)
        try:
            if connection is None or connection.closed:
                connection = await HttpConnection.open("127.0.0.1", spec.port)
            status, keep = await connection.request(get_request(spec.port, spec.make_target(seq)))
        except (OSError, ConnectionError, ValueError):
            self.samples.append(Sample(seq, due, sent, time.time(), CONNECTION_ERROR))
            del self.in_flight[slot]
            await asyncio.sleep(0.05)  # a refused connect must not spin
            return None
        self.samples.append(Sample(seq, due, sent, time.time(), status))
        del self.in_flight[slot]
        if not keep:
            connection.close()
            return None
        return connection

    async def closed_loop(self, slot: int, connection: HttpConnection | None) -> None:
        spec = self.spec
        end = self.start + spec.duration
        for number in itertools.count():
            if time.time() >= end:
                return
            seq = (number * spec.connections + slot) * spec.workers + spec.worker
            connection = await self.send(slot, connection, seq, time.time())

    async def open_loop(self, slot: int, connection: HttpConnection | None, queue: Queue) -> None:
        while (item := await queue.get()) is not None:
            seq, due = item
            connection = await self.send(slot, connection, seq, due)

    async def dispatch(self, queue: Queue) -> None:
        """Release each request at its due time into the queue the connections take from."""
        spec = self.spec
        assert spec.rate is not None
        total = math.floor(spec.rate * spec.duration)
        mine = range(spec.worker, total, spec.workers)
        for seq in mine:
            due = self.start + seq / spec.rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((seq, due))
        for _ in range(spec.connections):
            queue.put_nowait(None)


async def _run(spec: LoadSpec, start: float) -> list[Sample]:
    run = _Run(spec, start)
    connections: list[HttpConnection | None] = []
    for _ in range(spec.connections):
        try:
            connections.append(await HttpConnection.open("127.0.0.1", spec.port))
        except OSError:
            connections.append(None)  # counted as an error on first use
    await asyncio.sleep(max(0.0, start - time.time()))
    queue: Queue = asyncio.Queue()
    if spec.rate is None:
        tasks = [asyncio.create_task(run.closed_loop(n, c)) for n, c in enumerate(connections)]
    else:
        tasks = [asyncio.create_task(run.open_loop(n, c, queue)) for n, c in enumerate(connections)]
        tasks.append(asyncio.create_task(run.dispatch(queue)))
    _, pending = await asyncio.wait(tasks, timeout=start + spec.duration + spec.grace - time.time())
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for seq, due, sent in run.in_flight.values():
        run.samples.append(Sample(seq, due, sent, math.nan, NO_ANSWER))
    while not queue.empty():
        if (item := queue.get_nowait()) is not None:
            run.samples.append(Sample(item[0], item[1], math.nan, math.nan, NO_ANSWER))
    for connection in connections:
        if connection is not None:
            connection.close()
    return run.samples


def _child(spec: LoadSpec, pipe: Connection) -> None:
    pipe.send("ready")
    start: float = pipe.recv()
    before = resource.getrusage(resource.RUSAGE_SELF)
    samples = asyncio.run(_run(spec, start))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    pipe.send((samples, cpu))


def run_load(spec: LoadSpec, processes: int = 1) -> LoadResult:
    """Run the load from `processes` child processes at once; their samples merged."""
    context = multiprocessing.get_context("spawn")
    children = []
    for worker in range(processes):
        share = replace(
            spec,
            connections=max(1, spec.connections // processes),
            worker=worker,
            workers=processes,
        )
        parent, child = context.Pipe()
        process = context.Process(target=_child, args=(share, child), daemon=True)
        process.start()
        children.append((process, parent))
    for process, parent in children:
        if not parent.poll(60) or parent.recv() != "ready":
            raise RuntimeError("a load generator process did not start")
    start = time.time() + 0.5  # time for every process to open its connections
    for _, parent in children:
        parent.send(start)
    result = LoadResult(spec, start)
    for process, parent in children:
        if not parent.poll(spec.duration + spec.grace + 60):
            raise RuntimeError("a load generator process did not report")
        samples, cpu = parent.recv()
        result.samples.extend(samples)
        result.cpu_seconds += cpu
        process.join(10)
    result.samples.sort(key=lambda sample: sample.seq)
    return result

"""One live socket: its subscription, its position in the event log, its frames; and
the hub of every socket this process holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from quart import websocket

from ...db import Database
from ...events import Broker, Event, StaffSessionsEnded, events_since, last_event_id
from ..guards import load_staff
from .protocol import BadFrame, Subscribe, Topic, parse_frame

REPLAY_LIMIT = 500  # matching events a replay sends before asking the page to reload
SCAN_LIMIT = 5000  # log rows a replay reads looking for matches
PAGE_SIZE = 500
PING_SECONDS = 20.0
CLOSE_RESTART = 1012
CLOSE_POLICY = 1008
MAX_PENDING_FRAMES = 16


class LiveHub:
    """Every open live socket of this process (`app.extensions["smsproxy.live"]`)."""

    def __init__(self, ping_seconds: float = PING_SECONDS) -> None:
        self.ping_seconds = ping_seconds
        self._connections: set[LiveConnection] = set()

    def __len__(self) -> int:
        return len(self._connections)

    def add(self, connection: LiveConnection) -> None:
        self._connections.add(connection)

    def discard(self, connection: LiveConnection) -> None:
        self._connections.discard(connection)

    async def close_all(self, code: int = CLOSE_RESTART) -> int:
        """Close every live socket from the server side; returns how many were open."""
        connections = list(self._connections)
        for connection in connections:
            connection.close(code)
        waits = [asyncio.ensure_future(connection.finished.wait()) for connection in connections]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=5)
            for wait in pending:
                wait.cancel()
        return len(connections)


@dataclass(frozen=True)
class Login:
    """Who opened a socket, and the login cookie value they opened it with."""

    user_id: int
    auth_id: str | None

    async def ended_by(self, event: Event) -> bool:
        if event.name != StaffSessionsEnded.name or event.data.get("user_id") != self.user_id:
            return False
        return await load_staff(self.auth_id) is None


async def _next_event(stream: AsyncIterator[Event]) -> Event | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


class LiveConnection:
    """One socket: its subscription, its position in the event log, its frames."""

    def __init__(
        self, hub: LiveHub, broker: Broker, db: Database, position: int, login: Login
    ) -> None:
        self._hub = hub
        self._login = login
        self._broker = broker
        self._db = db
        self._position = position
        self._frames: asyncio.Queue[Subscribe | BadFrame] = asyncio.Queue(MAX_PENDING_FRAMES)
        self._closing = asyncio.Event()
        self._close_code = CLOSE_RESTART
        self.finished = asyncio.Event()
        self._topic: Topic | None = None
        self._last_sent = 0
        self._stream: AsyncIterator[Event] | None = None
        self._next: asyncio.Task[Event | None] | None = None
        self._last_frame_at = 0.0

    def close(self, code: int = CLOSE_RESTART) -> None:
        self._close_code = code
        self._closing.set()

    async def run(self) -> None:
        self._hub.add(self)
        try:
            await websocket.accept()
            if await self._serve():
                await websocket.close(self._close_code)
        finally:
            self._hub.discard(self)
            self.finished.set()

    async def _serve(self) -> bool:
        """Send frames until the client goes (False) or the server closes (True)."""
        loop = asyncio.get_running_loop()
        receiver = asyncio.create_task(self._receive())
        frame = asyncio.create_task(self._frames.get())
        closing = asyncio.create_task(self._closing.wait())
        try:
            await self._send({"type": "hello", "last_id": self._position})
            while True:
                step = self._next
                waiting: set[asyncio.Future[Any]] = {receiver, frame, closing}
                if step is not None:
                    waiting.add(step)
                idle = loop.time() - self._last_frame_at
                done, _ = await asyncio.wait(
                    waiting,
                    timeout=max(0.0, self._hub.ping_seconds - idle),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if closing in done:
                    return True
                if receiver in done:
                    receiver.result()
                    return False
                if not done:
                    await self._send({"type": "ping"})
                if step is not None and step in done:
                    await self._on_step(step)
                if frame in done:
                    item = frame.result()
                    frame = asyncio.create_task(self._frames.get())
                    await self._on_frame(item)
        finally:
            for task in (receiver, frame, closing):
                task.cancel()
            await self._end_stream()
            await asyncio.wait([receiver, frame, closing])

    async def _receive(self) -> None:
        while True:
            raw = await websocket.receive()
            try:
                item: Subscribe | BadFrame = parse_frame(raw)
            except BadFrame as error:
                item = error
            try:
                self._frames.put_nowait(item)
            except asyncio.QueueFull:
                self.close(CLOSE_POLICY)
                return

    async def _on_frame(self, item: Subscribe | BadFrame) -> None:
        if isinstance(item, BadFrame):
            await self._send({"type": "error", "message": str(item)})
            return
        await self._end_stream()
        self._topic = item.topic
        self._last_sent = self._position if item.since is None else item.since
        await self._open_stream()

    async def _on_step(self, step: asyncio.Task[Event | None]) -> None:
        event = step.result()
        if event is None:
            # The broker ended the subscription (this socket fell behind, or Redis came
            # back from an outage): whatever it missed is in the log.
            await self._end_stream()
            await self._open_stream()
            return
        assert self._stream is not None and self._topic is not None
        self._next = asyncio.create_task(_next_event(self._stream))
        if await self._login.ended_by(event):
            self.close(CLOSE_POLICY)
            return
        if event.id > self._last_sent and self._topic.matches(event):
            await self._send_event(event)

    async def _open_stream(self) -> None:
        self._stream = self._broker.subscribe()
        self._next = asyncio.create_task(_next_event(self._stream))
        # A subscription registers on its first step: let it run before reading the log,
        # so an event committed from now on is either in the replay or live (or both, and
        # the id check drops the second copy).
        await asyncio.sleep(0)
        await self._replay()

    async def _end_stream(self) -> None:
        step, stream = self._next, self._stream
        self._next = self._stream = None
        if step is not None:
            step.cancel()
            await asyncio.wait([step])
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _replay(self) -> None:
        assert self._topic is not None
        found: list[Event] = []
        too_many = False
        async with self._db.read() as session:
            head = await last_event_id(session)
            after, scanned = self._last_sent, 0
            while after < head:
                page = await events_since(session, after, self._topic.chat_id, PAGE_SIZE)
                found.extend(event for event in page if self._topic.matches(event))
                scanned += len(page)
                if len(page) < PAGE_SIZE:
                    break
                if len(found) > REPLAY_LIMIT or scanned >= SCAN_LIMIT:
                    too_many = True
                    break
                after = page[-1].id
        too_many = too_many or len(found) > REPLAY_LIMIT
        if too_many or self._last_sent > head:
            # Too much to send, or a position from some other database: the page
            # reloads, and this stream carries on from the newest event.
            self._last_sent = max(self._last_sent, head) if too_many else head
            self._position = max(self._position, head)
            await self._send({"type": "reset", "last_id": self._last_sent})
            return
        for event in found:
            await self._send_event(event)

    async def _send_event(self, event: Event) -> None:
        self._last_sent = event.id
        self._position = max(self._position, event.id)
        await self._send({"type": "event", "event": event.as_json()})

    async def _send(self, frame: dict[str, Any]) -> None:
        await websocket.send(json.dumps(frame))
        self._last_frame_at = asyncio.get_running_loop().time()

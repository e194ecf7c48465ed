"""One live socket: its subscription, its position in the event log, its frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from quart import websocket

from ...db import Database
from ...events import Signal, events_since, last_event_id
from ..guards import load_staff
from .hub import CLOSE_RESTART, LiveHub
from .protocol import TYPING, UNREAD_NAMES, BadFrame, Subscribe, Topic, Typing, parse_frame

REPLAY_LIMIT = 500  # matching events a replay sends before asking the page to reload
SCAN_LIMIT = 5000  # log rows a replay reads looking for matches
PAGE_SIZE = 500
CLOSE_POLICY = 1008
MAX_PENDING_FRAMES = 16
# Frames queued for a socket that is slower than the events: past this it is cut off
# from the feed and catches up from the log once it has room (or is asked to reload).
MAX_QUEUED_EVENTS = 1000
# "Someone is writing": at most one "start" per socket this often (the page sends one
# every 2 s while its person types); signals beyond a short queue are dropped.
TYPING_MIN_SECONDS = 1.5
MAX_QUEUED_SIGNALS = 32


@dataclass(frozen=True)
class Login:
    """Who opened a socket, and the login cookie value they opened it with."""

    user_id: int
    auth_id: str | None
    username: str = ""

    async def ended(self) -> bool:
        return await load_staff(self.auth_id) is None


class LiveConnection:
    """One socket. The hub queues encoded event frames on it (`offer`); the socket's own
    task sends them, replays from the log what it missed, and answers the client."""

    def __init__(self, hub: LiveHub, db: Database, position: int, login: Login) -> None:
        self._hub = hub
        self.login = login
        self._db = db
        self._position = position
        self._wake = asyncio.Event()
        self._inbox: deque[Subscribe | Typing | BadFrame] = deque()
        self._outbox: deque[tuple[int, str]] = deque()
        self._signals: deque[str] = deque()
        self._typing_at: float | None = None  # when the last "start" went out
        self._typing = False
        self._behind = False
        self._login_changed = False
        self._close_code: int | None = None
        self.finished = asyncio.Event()
        self._topic: Topic | None = None
        self._last_sent = 0
        self._last_frame_at = 0.0
        self._ping_due = False
        self._ping_timer: asyncio.TimerHandle | None = None

    # -- called by the hub, synchronously, from the feed -----------------------------

    @property
    def user_id(self) -> int:
        return self.login.user_id

    def offer(self, event_id: int, frame: str) -> None:
        if self._behind:
            return
        if len(self._outbox) >= MAX_QUEUED_EVENTS:
            self.fall_behind()
            return
        self._outbox.append((event_id, frame))
        self._wake.set()

    def offer_signal(self, frame: str) -> None:
        if len(self._signals) < MAX_QUEUED_SIGNALS:
            self._signals.append(frame)
            self._wake.set()

    def fall_behind(self) -> None:
        self._behind = True
        self._outbox.clear()
        self._wake.set()

    def check_login(self) -> None:
        self._login_changed = True
        self._wake.set()

    def close(self, code: int = CLOSE_RESTART) -> None:
        self._close_code = code
        self._wake.set()

    # -- the socket's task -----------------------------------------------------------

    async def run(self) -> None:
        self._hub.add(self)
        try:
            await websocket.accept()
            if await self._serve():
                assert self._close_code is not None
                await websocket.close(self._close_code)
        finally:
            self._hub.discard(self)
            if self._typing:
                # The page went while its person was writing: colleagues stop seeing it.
                with contextlib.suppress(Exception):
                    await self._signal_typing("stop")
            self.finished.set()

    async def _serve(self) -> bool:
        """Send frames until the client goes (False) or the server closes (True)."""
        receiver = asyncio.create_task(self._receive())
        receiver.add_done_callback(lambda _: self._wake.set())
        try:
            await self._send({"type": "hello", "last_id": self._position})
            self._arm_ping()
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._close_code is not None:
                    return True
                if receiver.done():
                    receiver.result()
                    return False
                await self._work()
        finally:
            if self._ping_timer is not None:
                self._ping_timer.cancel()
            receiver.cancel()
            await asyncio.wait([receiver])

    def _arm_ping(self) -> None:
        # One timer per socket that fires only when it may be due, rather than a
        # timeout around every wait: a wait per event per socket is the hot path.
        loop = asyncio.get_running_loop()
        self._ping_timer = loop.call_at(
            self._last_frame_at + self._hub.ping_seconds, self._ping_if_idle
        )

    def _ping_if_idle(self) -> None:
        if asyncio.get_running_loop().time() >= self._last_frame_at + self._hub.ping_seconds:
            self._ping_due = True
            self._wake.set()
        else:
            self._arm_ping()

    async def _work(self) -> None:
        if self._ping_due:
            self._ping_due = False
            await self._send({"type": "ping"})
            self._arm_ping()
        if self._login_changed:
            self._login_changed = False
            if await self.login.ended():
                self.close(CLOSE_POLICY)
                return
        while self._inbox:
            await self._on_frame(self._inbox.popleft())
        while self._behind and self._topic is not None:
            # Cut off from the feed: rejoin it first, then read what was missed, so
            # that every event is in the replay or the queue (or both: sent once).
            self._behind = False
            await self._replay()
        while self._outbox and self._close_code is None:
            event_id, frame = self._outbox.popleft()
            if event_id > self._last_sent:
                self._last_sent = event_id
                self._position = max(self._position, event_id)
                await self._send_text(frame)
        while self._signals and self._close_code is None:
            await self._send_text(self._signals.popleft())

    async def _receive(self) -> None:
        while True:
            raw = await websocket.receive()
            try:
                item: Subscribe | Typing | BadFrame = parse_frame(raw)
            except BadFrame as error:
                item = error
            if len(self._inbox) >= MAX_PENDING_FRAMES:
                self.close(CLOSE_POLICY)
                return
            self._inbox.append(item)
            self._wake.set()

    async def _on_frame(self, item: Subscribe | Typing | BadFrame) -> None:
        if isinstance(item, BadFrame):
            await self._send({"type": "error", "message": str(item)})
            return
        if isinstance(item, Typing):
            await self._on_typing(item.state)
            return
        if self._typing:
            # Off to another topic: the chat it was writing in hears that it stopped.
            self._typing = False
            await self._signal_typing("stop")
        self._hub.listen(self, item.topic)
        self._topic = item.topic
        self._last_sent = self._position if item.since is None else item.since
        self._outbox.clear()
        self._behind = False
        await self._replay()

    async def _on_typing(self, state: str) -> None:
        if self._topic is None or self._topic.chat_id is None:
            await self._send({"type": "error", "message": "typing needs a chat:<id> topic"})
            return
        now = asyncio.get_running_loop().time()
        if state == "start":
            if self._typing_at is not None and now - self._typing_at < TYPING_MIN_SECONDS:
                return
            self._typing_at = now
        elif not self._typing:
            return  # nothing was said to stop
        self._typing = state == "start"
        await self._signal_typing(state)

    async def _signal_typing(self, state: str) -> None:
        assert self._topic is not None and self._topic.chat_id is not None
        data = {"user_id": self.login.user_id, "user": self.login.username, "state": state}
        await self._hub.signal(Signal(TYPING, self._topic.chat_id, data))

    async def _replay(self) -> None:
        assert self._topic is not None
        found: list[Any] = []
        too_many = False
        async with self._db.read() as session:
            head = await last_event_id(session)
            after, scanned = self._last_sent, 0
            while after < head:
                page = await events_since(
                    session, after, self._topic.chat_id, PAGE_SIZE, also=UNREAD_NAMES
                )
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
            self._last_sent = event.id
            self._position = max(self._position, event.id)
            await self._send({"type": "event", "event": event.as_json()})

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._send_text(json.dumps(frame))

    async def _send_text(self, text: str) -> None:
        await websocket.send(text)
        self._last_frame_at = asyncio.get_running_loop().time()

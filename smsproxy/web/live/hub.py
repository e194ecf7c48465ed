"""Every live socket of this process, and the one feed that serves them all.

One subscription to the broker per process (an `OrderedFeed`: events in id order,
gaps filled from the log); each event is encoded once and the same frame is queued on
every socket whose topic wants it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from typing import Protocol

from ...db import Database
from ...events import Broker, Event, Signal, StaffSessionsEnded
from ...events.ordered import OrderedFeed
from .protocol import LIST_EVENTS, Topic, is_inbox_event, is_unread_event

PING_SECONDS = 20.0
CLOSE_RESTART = 1012
ALL = Topic("all")
CHATS = Topic("chats")


class LiveConnection(Protocol):
    """What the hub asks of a socket (`connection.LiveConnection`)."""

    finished: asyncio.Event

    @property
    def user_id(self) -> int: ...
    def offer(self, event_id: int, frame: str) -> None: ...
    def offer_signal(self, frame: str) -> None: ...
    def fall_behind(self) -> None: ...
    def check_login(self) -> None: ...
    def close(self, code: int = CLOSE_RESTART) -> None: ...


class LiveHub:
    """Every open live socket of this process (`app.extensions["smsproxy.live"]`)."""

    def __init__(self, ping_seconds: float = PING_SECONDS) -> None:
        self.ping_seconds = ping_seconds
        self._connections: set[LiveConnection] = set()
        self._by_topic: dict[Topic, set[LiveConnection]] = {}
        self._topics: dict[LiveConnection, Topic] = {}
        self._feed: OrderedFeed | None = None
        self._task: asyncio.Task[None] | None = None
        self._broker: Broker | None = None
        self._unlisten: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self._connections)

    @property
    def feed(self) -> OrderedFeed | None:
        return self._feed

    async def start(self, broker: Broker, db: Database) -> None:
        """Follow the broker (once per process, for every socket)."""
        if self._task is not None:
            return
        self._broker = broker
        self._unlisten = broker.on_signal(self.relay_signal)
        self._feed = OrderedFeed(broker, db, self.fan_out, self.lost_track)
        self._task = asyncio.create_task(self._feed.run(), name="live-feed")

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        await self.close_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def add(self, connection: LiveConnection) -> None:
        self._connections.add(connection)

    def discard(self, connection: LiveConnection) -> None:
        self._connections.discard(connection)
        self.listen(connection, None)

    def listen(self, connection: LiveConnection, topic: Topic | None) -> None:
        """Make a socket hear `topic` (None: nothing) instead of what it heard before."""
        old = self._topics.pop(connection, None)
        if old is not None:
            listeners = self._by_topic[old]
            listeners.discard(connection)
            if not listeners:
                del self._by_topic[old]
        if topic is not None:
            self._topics[connection] = topic
            self._by_topic.setdefault(topic, set()).add(connection)

    def fan_out(self, events: Sequence[Event]) -> None:
        """Queue each event, encoded once, on every socket that listens for it."""
        for event in events:
            if event.name == StaffSessionsEnded.name:
                self._sessions_ended(event)
            targets = self._listeners(event)
            if not targets:
                continue
            frame = json.dumps({"type": "event", "event": event.as_json()})
            for connection in targets:
                connection.offer(event.id, frame)

    def _listeners(self, event: Event) -> list[LiveConnection]:
        found: list[LiveConnection] = []
        for topic in (
            ALL,
            CHATS if event.name in LIST_EVENTS else None,
            Topic("chat", event.chat_id) if event.chat_id is not None else None,
        ):
            if topic is not None:
                found.extend(self._by_topic.get(topic, ()))
        if is_inbox_event(event) or (event.chat_id is not None and is_unread_event(event)):
            # Every chat page's navigation counts the unrouted inbox, and its tab title
            # the unread texts of every chat. A chat's own events are found above.
            for topic, listeners in self._by_topic.items():
                if topic.chat_id is not None and topic.chat_id != event.chat_id:
                    found.extend(listeners)
        return found

    async def signal(self, signal: Signal) -> None:
        """Send a signal to the pages of its chat in every process (through the broker)."""
        if self._broker is not None:
            await self._broker.signal(signal)
        else:
            self.relay_signal(signal)

    def relay_signal(self, signal: Signal) -> None:
        """A signal heard from the broker: to this process's sockets on its chat, except
        those of the staff member it is about."""
        listeners = self._by_topic.get(Topic("chat", signal.chat_id), ())
        about = signal.data.get("user_id")
        targets = [connection for connection in listeners if connection.user_id != about]
        if not targets:
            return
        frame = json.dumps({"type": signal.name, "chat_id": signal.chat_id, **signal.data})
        for connection in targets:
            connection.offer_signal(frame)

    def _sessions_ended(self, event: Event) -> None:
        user_id = event.data.get("user_id")
        for connection in self._connections:
            if connection.user_id == user_id:
                connection.check_login()

    def lost_track(self) -> None:
        """The feed skipped events: every socket catches up from the log itself."""
        for connection in self._connections:
            connection.fall_behind()

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

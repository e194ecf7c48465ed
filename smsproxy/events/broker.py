"""Publishing committed events to live subscribers: the wire form of an event, the
Broker protocol, and the in-process broker (RedisBroker, in `redis_broker`, puts Redis
pub/sub in front of it across processes).

Brokers also carry signals: what live pages tell each other for a moment only
("someone is writing"). A signal has no id, is never stored and is not replayed: a page
that was not listening simply never hears it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import EventRecord


@dataclass(frozen=True)
class Event:
    """A committed event as subscribers see it: its durable id, name, chat and data."""

    id: int
    name: str
    chat_id: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "chat_id": self.chat_id, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        return cls(int(raw["id"]), str(raw["name"]), raw.get("chat_id"), dict(raw["data"]))

    @classmethod
    def from_record(cls, record: EventRecord) -> Event:
        assert record.id is not None
        return cls(record.id, record.name, record.chat_public_id, dict(record.payload))


@dataclass(frozen=True)
class Signal:
    """A transient message between the live pages of one chat, in every process."""

    name: str
    chat_id: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "chat_id": self.chat_id, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Signal:
        return cls(str(raw["name"]), str(raw["chat_id"]), dict(raw["data"]))


SignalListener = Callable[[Signal], None]


class Broker(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, events: list[Event]) -> None: ...
    def subscribe(self) -> AsyncIterator[Event]: ...
    async def signal(self, signal: Signal) -> None: ...
    def on_signal(self, listener: SignalListener) -> Callable[[], None]: ...


class MemoryBroker:
    """One process: a set of queues, one per subscriber (the Quart chat example's shape)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._queue_size = queue_size
        self._signal_listeners: set[SignalListener] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.end_subscriptions()

    def end_subscriptions(self) -> None:
        """End every current subscription. Subscribers read that as "you may have missed
        events" and catch up from the event log (RedisBroker does this after a reconnect)."""
        for queue in list(self._queues):
            # Discarded first, so deliver() never fills the slot kept for the end marker.
            self._queues.discard(queue)
            queue.put_nowait(None)

    async def publish(self, events: list[Event]) -> None:
        self.deliver(events)

    def deliver(self, events: list[Event]) -> None:
        for queue in list(self._queues):
            for event in events:
                if queue.qsize() >= self._queue_size:
                    # A subscriber that cannot keep up is cut off (the spare slot holds
                    # the end marker); it reconnects and catches up from the event log.
                    self._queues.discard(queue)
                    queue.put_nowait(None)
                    break
                queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self._queue_size + 1)
        self._queues.add(queue)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._queues.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._queues)

    async def signal(self, signal: Signal) -> None:
        self.deliver_signal(signal)

    def deliver_signal(self, signal: Signal) -> None:
        for listener in list(self._signal_listeners):
            listener(signal)

    def on_signal(self, listener: SignalListener) -> Callable[[], None]:
        """Hear every signal from now on; call the result to stop."""
        self._signal_listeners.add(listener)
        return lambda: self._signal_listeners.discard(listener)

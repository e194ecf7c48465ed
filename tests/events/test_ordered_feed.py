"""OrderedFeed: committed events in id order, each once, from publishes that cross."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from smsproxy import events
from smsproxy.events.ordered import OrderedFeed
from smsproxy.models import EventRecord
from smsproxy.runtime import Runtime


@dataclass
class Heard:
    ids: list[int] = field(default_factory=list)
    lost: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, batch: Sequence[events.Event]) -> None:
        self.ids.extend(event.id for event in batch)
        self.changed.set()

    def lose(self) -> None:
        self.lost += 1
        self.changed.set()

    async def until(self, count: int) -> list[int]:
        async with asyncio.timeout(5):
            while len(self.ids) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.ids


@asynccontextmanager
async def following(runtime: Runtime, **options: float) -> AsyncIterator[tuple[OrderedFeed, Heard]]:
    heard = Heard()
    feed = OrderedFeed(runtime.broker, runtime.db, heard.deliver, heard.lose, **options)  # type: ignore[arg-type]
    task = asyncio.create_task(feed.run())
    while feed.position is None:
        await asyncio.sleep(0.001)
    try:
        yield feed, heard
    finally:
        task.cancel()
        await asyncio.wait([task])


async def unpublished(runtime: Runtime, count: int) -> list[events.Event]:
    """Committed events whose publishes the test sends by hand."""
    async with runtime.db.transaction() as session:
        rows = [EventRecord(name=events.NumberChanged.name, payload={"n": n}) for n in range(count)]
        session.add_all(rows)
    return [events.Event.from_record(row) for row in rows]


async def test_crossed_publishes_are_delivered_in_id_order(runtime: Runtime) -> None:
    # Longer than the test takes: nothing here may come from the log.
    async with following(runtime, gap_wait=60) as (feed, heard):
        one, two, three = await unpublished(runtime, 3)
        await runtime.broker.publish([three])
        await runtime.broker.publish([one])
        await asyncio.sleep(0.01)
        assert heard.ids == [one.id]
        await runtime.broker.publish([two])
        assert await heard.until(3) == [one.id, two.id, three.id]
        assert feed.gap_reads == 0


async def test_an_event_heard_twice_is_delivered_once(runtime: Runtime) -> None:
    async with following(runtime) as (_, heard):
        one, two = await unpublished(runtime, 2)
        await runtime.broker.publish([one, one])
        await runtime.broker.publish([two, one])
        assert await heard.until(2) == [one.id, two.id]
        [three] = await unpublished(runtime, 1)
        await runtime.broker.publish([three])
        assert await heard.until(3) == [one.id, two.id, three.id]


async def test_a_gap_is_read_from_the_log_once_it_outlasts_the_wait(runtime: Runtime) -> None:
    async with following(runtime, gap_wait=0.01) as (feed, heard):
        one, two, three = await unpublished(runtime, 3)
        await runtime.broker.publish([three])
        assert await heard.until(3) == [one.id, two.id, three.id]
        assert feed.gap_reads == 1
        # Their own publishes come late: nothing is delivered twice.
        await runtime.broker.publish([one, two])
        [four] = await unpublished(runtime, 1)
        await runtime.broker.publish([four])
        assert await heard.until(4) == [one.id, two.id, three.id, four.id]


async def test_a_new_subscription_catches_up_from_the_log(runtime: Runtime) -> None:
    broker = runtime.broker
    assert isinstance(broker, events.MemoryBroker)
    async with following(runtime) as (_, heard):
        missed = await unpublished(runtime, 3)
        broker.end_subscriptions()
        assert await heard.until(3) == [event.id for event in missed]
        assert heard.lost == 0


async def test_too_much_to_catch_up_tells_listeners_they_lost_track(runtime: Runtime) -> None:
    broker = runtime.broker
    assert isinstance(broker, events.MemoryBroker)
    async with following(runtime, catch_up_limit=2) as (feed, heard):
        missed = await unpublished(runtime, 5)
        broker.end_subscriptions()
        async with asyncio.timeout(5):
            while heard.lost == 0:
                heard.changed.clear()
                await heard.changed.wait()
        assert feed.position == missed[-1].id
        # Following carries on from the newest event.
        [later] = await unpublished(runtime, 1)
        await broker.publish([later])
        assert (await heard.until(len(heard.ids) + 1))[-1] == later.id

"""RedisBroker against the real Redis: two brokers stand for two processes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from smsproxy.events import Event, Signal
from smsproxy.events.redis_broker import RedisBroker
from tests.conftest import REDIS_URL, need_service


@pytest.fixture
def redis_url() -> str:
    return need_service("Redis", REDIS_URL, "REDIS_URL")


@pytest.fixture
def channel() -> str:
    # Tests (and other test runs) share one Redis: a channel each keeps them apart.
    return f"smsproxy:test:{uuid.uuid4().hex}"


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def make_broker(redis_url: str, channel: str) -> AsyncIterator[Callable[..., RedisBroker]]:
    started: list[RedisBroker] = []

    def make(**options: float) -> RedisBroker:
        broker = RedisBroker(redis_url, channel=channel, **options)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        await broker.stop()


def event(number: int, chat_id: str | None = "ch_1") -> Event:
    return Event(number, "message.created", chat_id, {"n": number})


class Collector:
    """A local subscriber that records what it hears and whether its stream ended."""

    def __init__(self, broker: RedisBroker) -> None:
        self.broker = broker
        self.events: list[Event] = []
        self.ended = asyncio.Event()
        self.arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.ended.clear()
        self._task = asyncio.create_task(self._run())
        # The subscription is registered on the iterator's first step.
        await asyncio.sleep(0)

    async def _run(self) -> None:
        async for item in self.broker.subscribe():
            self.events.append(item)
            self.arrived.set()
        self.ended.set()

    async def wait_for(self, count: int) -> list[Event]:
        async with asyncio.timeout(5):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def kill_link(admin: Redis, name: str) -> None:
    clients = await admin.client_list()
    ids = [client["id"] for client in clients if client.get("name") == name]
    assert ids, f"no Redis client named {name}"
    for client_id in ids:
        await admin.execute_command("CLIENT", "KILL", "ID", client_id)


async def test_event_published_by_one_process_reaches_the_other_in_order(
    make_broker: Callable[..., RedisBroker],
) -> None:
    one, two = make_broker(), make_broker()
    await one.start()
    await two.start()
    assert one.subscribed and two.subscribed
    here, there = Collector(one), Collector(two)
    await here.start()
    await there.start()

    sent = [event(number) for number in range(1, 21)]
    await one.publish(sent[:10])
    await one.publish(sent[10:])

    assert await there.wait_for(20) == sent
    # The publishing process hears its own events through Redis too, once each.
    assert await here.wait_for(20) == sent
    await asyncio.sleep(0.05)
    assert len(here.events) == 20
    await here.stop()
    await there.stop()


async def test_many_local_subscribers_share_one_redis_subscription(
    make_broker: Callable[..., RedisBroker], admin: Redis, channel: str
) -> None:
    broker = make_broker()
    await broker.start()
    collectors = [Collector(broker) for _ in range(5)]
    for collector in collectors:
        await collector.start()
    assert broker.subscriber_count == 5
    assert (await admin.pubsub_numsub(channel)) == [(channel.encode(), 1)]

    await broker.publish([event(7)])
    for collector in collectors:
        assert await collector.wait_for(1) == [event(7)]
        await collector.stop()


async def test_listener_reconnects_after_its_connection_is_killed(
    make_broker: Callable[..., RedisBroker], admin: Redis, channel: str
) -> None:
    publisher = make_broker()
    # Slow enough to reconnect that the test can publish into the gap.
    listener = make_broker(retry_min_seconds=1.0)
    await publisher.start()
    await listener.start()
    collector = Collector(listener)
    await collector.start()
    await publisher.publish([event(1)])
    assert await collector.wait_for(1) == [event(1)]

    assert (await admin.pubsub_numsub(channel)) == [(channel.encode(), 2)]
    await kill_link(admin, listener.client_name + "-sub")
    async with asyncio.timeout(5):
        while listener.subscribed:
            await asyncio.sleep(0.01)
    # Only the publishing process's own listener is left on the channel.
    assert (await admin.pubsub_numsub(channel)) == [(channel.encode(), 1)]
    # Nobody hears this one on Redis: only the event log has it now.
    await publisher.publish([event(2)])

    async with asyncio.timeout(5):
        await listener.wait_subscribed()
        # Ending the subscription tells the subscriber to catch up from the log.
        await collector.ended.wait()
    assert collector.events == [event(1)]

    await collector.start()
    await publisher.publish([event(3)])
    assert await collector.wait_for(2) == [event(1), event(3)]
    await collector.stop()


async def test_publisher_survives_its_connection_being_killed(
    make_broker: Callable[..., RedisBroker],
    admin: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher, listener = make_broker(), make_broker()
    await publisher.start()
    await listener.start()
    collector = Collector(listener)
    await collector.start()
    await publisher.publish([event(1)])
    await collector.wait_for(1)

    await kill_link(admin, publisher.client_name + "-pub")
    with caplog.at_level(logging.WARNING, logger="smsproxy.events.redis_broker"):
        await publisher.publish([event(2)])
    assert await collector.wait_for(2) == [event(1), event(2)]
    assert not caplog.records
    await collector.stop()


async def test_unreachable_redis_never_breaks_the_publisher(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Port 1 on localhost refuses connections: Redis is down.
    broker = RedisBroker(
        "redis://127.0.0.1:1/0",
        channel="smsproxy:test:down",
        start_timeout_seconds=0.2,
        retry_min_seconds=0.05,
    )
    with caplog.at_level(logging.INFO, logger="smsproxy.events.redis_broker"):
        await broker.start()
        assert not broker.subscribed
        collector = Collector(broker)
        await collector.start()
        secret = Event(1, "message.created", "ch_1", {"body": "meet at +447700900123"})
        await broker.publish([secret])
        await broker.publish([event(2)])
        # This process's pages still hear its own events.
        assert await collector.wait_for(2) == [secret, event(2)]
        await asyncio.sleep(0.3)
        await collector.stop()
        await broker.stop()

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    messages = [record.getMessage() for record in warnings]
    assert sum("publishing live events to Redis failed" in text for text in messages) == 1
    assert sum("subscription for live events lost" in text for text in messages) == 1
    # Retries are logged below WARNING, and nothing logged carries event data.
    infos = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert any("reconnecting" in text for text in infos)
    assert all("+44" not in record.getMessage() for record in caplog.records)


async def test_malformed_message_on_the_channel_is_ignored(
    make_broker: Callable[..., RedisBroker], admin: Redis, channel: str
) -> None:
    broker = make_broker()
    await broker.start()
    collector = Collector(broker)
    await collector.start()
    await admin.publish(channel, b"not json")
    await admin.publish(channel, b'{"id": 1}')
    await broker.publish([event(3)])
    assert await collector.wait_for(1) == [event(3)]
    await collector.stop()


async def test_stop_ends_local_subscriptions(make_broker: Callable[..., RedisBroker]) -> None:
    broker = make_broker()
    await broker.start()
    collector = Collector(broker)
    await collector.start()
    await broker.stop()
    async with asyncio.timeout(5):
        await collector.ended.wait()
    assert not broker.subscribed


async def test_signals_reach_every_process_once_and_stay_apart_from_events(
    make_broker: Callable[..., RedisBroker],
) -> None:
    one, two = make_broker(), make_broker()
    await one.start()
    await two.start()
    heard: dict[str, list[Signal]] = {"one": [], "two": []}
    one.on_signal(heard["one"].append)
    stop_two = two.on_signal(heard["two"].append)
    events_heard = Collector(two)
    await events_heard.start()

    typing = Signal("typing", "ch_1", {"user_id": 1, "user": "alice", "state": "start"})
    await one.signal(typing)
    async with asyncio.timeout(5):
        while not (heard["one"] and heard["two"]):
            await asyncio.sleep(0.01)
    await one.publish([event(1)])
    assert await events_heard.wait_for(1) == [event(1)]  # events stay events
    assert heard == {"one": [typing], "two": [typing]}  # once each, the publisher too
    stop_two()
    await one.signal(typing)
    async with asyncio.timeout(5):
        while len(heard["one"]) < 2:
            await asyncio.sleep(0.01)
    assert len(heard["two"]) == 1  # no longer listening
    await events_heard.stop()


async def test_a_signal_without_redis_reaches_this_process() -> None:
    broker = RedisBroker(
        "redis://127.0.0.1:1/0", channel="smsproxy:test:down", start_timeout_seconds=0.1
    )
    await broker.start()
    heard: list[Signal] = []
    broker.on_signal(heard.append)
    await broker.signal(Signal("typing", "ch_1", {"state": "stop"}))
    assert heard == [Signal("typing", "ch_1", {"state": "stop"})]
    await broker.stop()

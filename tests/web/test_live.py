"""The live WebSocket through Quart's test client, on the real database and broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient, connections
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from redis.asyncio import Redis

from smsproxy import events
from smsproxy.app import create_app
from smsproxy.events.redis_broker import RedisBroker
from smsproxy.models import EventRecord
from smsproxy.runtime import Runtime
from smsproxy.web.live import HUB_KEY, REPLAY_LIMIT, LiveHub
from tests.conftest import REDIS_URL, logged_in_client, make_settings, need_service

Frame = dict[str, Any]
# Imported under another name so pytest does not take the class for a test class.
Socket = connections.TestWebsocketConnection


@pytest.fixture
def client(agent_client: QuartClient) -> QuartClient:
    """Logged in as an agent: the least a live page needs."""
    return agent_client


@pytest.fixture
def hub(app: Quart) -> LiveHub:
    value: LiveHub = app.extensions[HUB_KEY]
    return value


async def emit(app: Quart, name: str, chat_id: str | None, **data: Any) -> int:
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.transaction() as session:
        record = events.record(session, name, chat_id, data)
    assert record.id is not None
    return record.id


async def emit_many(app: Quart, count: int, name: str = events.MessageCreated.name) -> list[int]:
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.transaction() as session:
        records = [events.record(session, name, "ch_many", {"n": n}) for n in range(count)]
    return [record.id for record in records if record.id is not None]


async def receive(ws: Socket) -> Frame:
    async with asyncio.timeout(5):
        frame: Frame = json.loads(await ws.receive())
    return frame


async def receive_events(ws: Socket, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        frame = await receive(ws)
        assert frame["type"] == "event", frame
        ids.append(frame["event"]["id"])
    return ids


@asynccontextmanager
async def live(
    client: QuartClient, topic: str | None = None, since: int | None = None
) -> AsyncIterator[Socket]:
    """A connected socket past its hello, subscribed to `topic` when one is given."""
    async with client.websocket("/live") as ws:
        hello = await receive(ws)
        assert hello["type"] == "hello"
        if topic is not None:
            await ws.send_json({"type": "subscribe", "topic": topic, "since": since})
        yield ws


async def test_hello_tells_the_newest_event_id(app: Quart, client: QuartClient) -> None:
    async with client.websocket("/live") as ws:
        assert await receive(ws) == {"type": "hello", "last_id": 0}
    await emit(app, events.ChatCreated.name, "ch_a")
    newest = await emit(app, events.ChatClosed.name, "ch_a")
    async with client.websocket("/live") as ws:
        assert await receive(ws) == {"type": "hello", "last_id": newest}


async def test_live_event_arrives_after_commit(app: Quart, client: QuartClient) -> None:
    async with live(client, "all") as ws:
        event_id = await emit(app, events.MessageCreated.name, "ch_a", preview="hi")
        frame = await receive(ws)
    assert frame == {
        "type": "event",
        "event": {
            "id": event_id,
            "name": "message.created",
            "chat_id": "ch_a",
            "data": {"preview": "hi"},
        },
    }


async def test_rolled_back_event_is_never_sent(app: Quart, client: QuartClient) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    async with live(client, "all") as ws:
        with pytest.raises(RuntimeError):
            async with rt.db.transaction() as session:
                events.record(session, events.ChatCreated.name, "ch_gone", {})
                raise RuntimeError("the request failed")
        kept = await emit(app, events.ChatCreated.name, "ch_kept")
        assert await receive_events(ws, 1) == [kept]


async def test_replay_sends_missed_events_then_live_ones(app: Quart, client: QuartClient) -> None:
    seen = await emit(app, events.ChatCreated.name, "ch_a")
    missed = [
        await emit(app, events.MessageCreated.name, "ch_a", n=1),
        await emit(app, events.MessageCreated.name, "ch_a", n=2),
    ]
    async with live(client, "chat:ch_a", since=seen) as ws:
        assert await receive_events(ws, 2) == missed
        later = await emit(app, events.ChatClosed.name, "ch_a")
        assert await receive_events(ws, 1) == [later]


async def test_null_since_starts_at_hello(app: Quart, client: QuartClient) -> None:
    await emit(app, events.ChatCreated.name, "ch_old")
    async with client.websocket("/live") as ws:
        hello = await receive(ws)
        # Committed between the hello and the subscribe: still this page's news.
        after_hello = await emit(app, events.ChatCreated.name, "ch_new")
        await ws.send_json({"type": "subscribe", "topic": "chats", "since": None})
        assert hello["last_id"] == after_hello - 1
        assert await receive_events(ws, 1) == [after_hello]


@pytest.mark.parametrize(
    ("topic", "wanted"),
    [
        (
            "chats",
            {
                "a-created",
                "a-message",
                "b-closed",
                "b-read",
                "b-said",
                "b-staff",
                "number",
                "unrouted",
                "triaged",
            },
        ),
        # A chat's page hears that chat, the unrouted inbox its navigation counts, and
        # what changes other chats' unread counts (a read, a close), never the rest.
        (
            "chat:ch_a",
            {
                "a-created",
                "a-message",
                "a-delivery",
                "b-closed",
                "b-read",
                "b-said",
                "unrouted",
                "triaged",
            },
        ),
        (
            "all",
            {
                "a-created",
                "a-message",
                "a-delivery",
                "b-closed",
                "b-read",
                "b-said",
                "b-staff",
                "number",
                "unrouted",
                "triaged",
            },
        ),
    ],
)
async def test_topics_filter_replay_and_live(
    app: Quart, client: QuartClient, topic: str, wanted: set[str]
) -> None:
    async def emit_each() -> dict[int, str]:
        return {
            await emit(app, events.ChatCreated.name, "ch_a"): "a-created",
            await emit(app, events.MessageCreated.name, "ch_a"): "a-message",
            await emit(app, events.DeliveryUpdated.name, "ch_a"): "a-delivery",
            await emit(app, events.ChatClosed.name, "ch_b"): "b-closed",
            await emit(app, events.ChatRead.name, "ch_b"): "b-read",
            await emit(
                app, events.MessageCreated.name, "ch_b", author_kind="participant"
            ): "b-said",
            await emit(app, events.MessageCreated.name, "ch_b", author_kind="staff"): "b-staff",
            await emit(app, events.NumberChanged.name, None): "number",
            await emit(app, events.MessageCreated.name, None): "unrouted",
            await emit(app, events.UnroutedUpdated.name, None): "triaged",
        }

    replayed = await emit_each()
    async with live(client, topic, since=0) as ws:
        got = await receive_events(ws, len(wanted))
        assert {replayed[event_id] for event_id in got} == wanted
        live_ones = await emit_each()
        got = await receive_events(ws, len(wanted))
        assert {live_ones[event_id] for event_id in got} == wanted
        # Nothing unwanted was queued in between: the next frame is this one.
        marker = await emit(app, events.MessageCreated.name, "ch_a")
        assert await receive_events(ws, 1) == [marker]


async def test_subscribe_again_switches_topic(app: Quart, client: QuartClient) -> None:
    a = await emit(app, events.MessageCreated.name, "ch_a")
    b = await emit(app, events.MessageCreated.name, "ch_b")
    async with live(client, "chat:ch_a", since=0) as ws:
        assert await receive_events(ws, 1) == [a]
        await ws.send_json({"type": "subscribe", "topic": "chat:ch_b", "since": 0})
        assert await receive_events(ws, 1) == [b]
        await emit(app, events.MessageCreated.name, "ch_a")
        b_later = await emit(app, events.MessageCreated.name, "ch_b")
        assert await receive_events(ws, 1) == [b_later]


async def test_event_heard_twice_is_sent_once(app: Quart, client: QuartClient) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    first = await emit(app, events.ChatCreated.name, "ch_a")
    second = await emit(app, events.MessageCreated.name, "ch_a")
    async with live(client, "all", since=0) as ws:
        assert await receive_events(ws, 2) == [first, second]
        # What a commit racing the replay looks like: the replayed event arrives live too.
        async with rt.db.read() as session:
            again = await events.events_since(session, first)
        await rt.broker.publish(again)
        third = await emit(app, events.ChatClosed.name, "ch_a")
        assert await receive_events(ws, 1) == [third]


async def test_events_committed_during_replay_arrive_once_in_order(
    app: Quart, client: QuartClient
) -> None:
    expected: list[int] = []

    async def writer() -> None:
        for n in range(40):
            expected.append(await emit(app, events.MessageCreated.name, "ch_a", n=n))
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    while len(expected) < 10:
        await asyncio.sleep(0.001)
    async with live(client, "all", since=0) as ws:
        await task
        got = await receive_events(ws, len(expected))
    assert got == expected


async def test_too_many_missed_events_ask_the_page_to_reload(
    app: Quart, client: QuartClient
) -> None:
    ids = await emit_many(app, REPLAY_LIMIT + 1)
    async with live(client, "all", since=0) as ws:
        assert await receive(ws) == {"type": "reset", "last_id": ids[-1]}
        later = await emit(app, events.ChatCreated.name, "ch_a")
        assert await receive_events(ws, 1) == [later]


async def test_exactly_the_limit_is_still_replayed(app: Quart, client: QuartClient) -> None:
    ids = await emit_many(app, REPLAY_LIMIT)
    async with live(client, "chat:ch_many", since=0) as ws:
        assert await receive_events(ws, REPLAY_LIMIT) == ids


async def test_position_from_another_database_asks_for_reload(
    app: Quart, client: QuartClient
) -> None:
    head = await emit(app, events.ChatCreated.name, "ch_a")
    async with live(client, "chats", since=head + 100) as ws:
        assert await receive(ws) == {"type": "reset", "last_id": head}
        later = await emit(app, events.ChatCreated.name, "ch_b")
        assert await receive_events(ws, 1) == [later]


async def test_idle_socket_gets_pings(client: QuartClient, hub: LiveHub) -> None:
    hub.ping_seconds = 0.05
    async with live(client, "chats") as ws:
        assert await receive(ws) == {"type": "ping"}
        assert await receive(ws) == {"type": "ping"}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "frame is not valid JSON"),
        ("[1, 2]", 'a client sends {"type": "subscribe", ...} or {"type": "typing", ...}'),
        (
            '{"type": "publish"}',
            'a client sends {"type": "subscribe", ...} or {"type": "typing", ...}',
        ),
        ('{"type": "typing", "state": "maybe"}', 'a typing frame\'s state is "start" or "stop"'),
        ('{"type": "subscribe", "topic": "chat:"}', 'topic must be "chats", "all" or'),
        ('{"type": "subscribe", "topic": "chat:a b"}', 'topic must be "chats", "all" or'),
        ('{"type": "subscribe", "topic": "everything"}', 'topic must be "chats", "all" or'),
        ('{"type": "subscribe", "topic": "all", "since": "5"}', "since must be the id"),
        ('{"type": "subscribe", "topic": "all", "since": -1}', "since must be the id"),
        ('{"type": "subscribe", "topic": "all", "since": true}', "since must be the id"),
    ],
)
async def test_bad_frame_gets_an_error_and_the_socket_stays_usable(
    app: Quart, client: QuartClient, frame: str, message: str
) -> None:
    async with live(client) as ws:
        await ws.send(frame)
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["message"].startswith(message)
        await ws.send_json({"type": "subscribe", "topic": "all", "since": None})
        event_id = await emit(app, events.ChatCreated.name, "ch_a")
        assert await receive_events(ws, 1) == [event_id]


async def test_unauthenticated_socket_is_refused(app: Quart, hub: LiveHub) -> None:
    with pytest.raises(WebsocketResponseError) as refused:
        async with app.test_client().websocket("/live") as ws:
            await receive(ws)
    assert refused.value.response.status_code == 401
    assert len(hub) == 0


async def test_socket_from_another_site_is_refused(client: QuartClient) -> None:
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/live", headers={"Origin": "https://evil.example"}) as ws:
            await receive(ws)
    assert refused.value.response.status_code == 403


async def test_close_all_drops_every_socket(app: Quart, client: QuartClient, hub: LiveHub) -> None:
    async with live(client, "all") as one, live(client, "chats") as two:
        await emit(app, events.ChatCreated.name, "ch_a")
        await receive_events(one, 1)
        await receive_events(two, 1)
        assert len(hub) == 2
        assert await hub.close_all() == 2
        assert len(hub) == 0
        for ws in (one, two):
            with pytest.raises(WebsocketDisconnectError) as closed:
                await receive(ws)
            assert closed.value.args == (1012,)
    # A page that reconnects after the drop is served as before.
    async with live(client, "all", since=0) as ws:
        assert len(await receive_events(ws, 1)) == 1


async def test_subscription_ended_by_the_broker_catches_up_from_the_log(
    app: Quart, client: QuartClient
) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    broker = rt.broker
    assert isinstance(broker, events.MemoryBroker)
    async with live(client, "chat:ch_a", since=None) as ws:
        # Recorded but never heard live: as when Redis was down at publish time.
        async with rt.db.transaction() as session:
            record = EventRecord(name=events.MessageCreated.name, chat_public_id="ch_a", payload={})
            session.add(record)
        while broker.subscriber_count == 0:
            await asyncio.sleep(0.001)
        broker.end_subscriptions()
        assert await receive_events(ws, 1) == [record.id]
        later = await emit(app, events.ChatClosed.name, "ch_a")
        assert await receive_events(ws, 1) == [later]


async def test_page_on_another_process_misses_nothing_across_a_redis_outage(
    database_url: str,
) -> None:
    redis_url = need_service("Redis", REDIS_URL, "REDIS_URL")
    channel = f"smsproxy:test:{uuid.uuid4().hex}"

    def process() -> Quart:
        app = create_app(make_settings(database_url, redis_url=redis_url), background=False)
        # Each test run gets its own channel on the shared Redis.
        app.extensions["smsproxy"].broker = RedisBroker(
            redis_url, channel=channel, retry_min_seconds=0.5
        )
        return app

    writer, reader = process(), process()
    async with writer.test_app(), reader.test_app():
        admin = Redis.from_url(redis_url)
        listener: RedisBroker = reader.extensions["smsproxy"].broker
        client = await logged_in_client(reader, "reader", "agent")
        async with live(client, "chats") as ws:
            first = await emit(writer, events.ChatCreated.name, "ch_a")
            assert await receive_events(ws, 1) == [first]

            await admin.execute_command("CLIENT", "KILL", "ID", await link_id(admin, listener))
            while listener.subscribed:
                await asyncio.sleep(0.01)
            # Published while the reader's process was not listening.
            during = await emit(writer, events.MessageCreated.name, "ch_a")
            assert await receive_events(ws, 1) == [during]

            after = await emit(writer, events.ChatClosed.name, "ch_a")
            assert await receive_events(ws, 1) == [after]
        await admin.aclose()


async def link_id(admin: Redis, broker: RedisBroker) -> int:
    for entry in await admin.client_list():
        if entry.get("name") == broker.client_name + "-sub":
            return int(entry["id"])
    raise AssertionError("the broker has no Redis subscription")

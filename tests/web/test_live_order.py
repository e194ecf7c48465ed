"""A live page ends up as a reload would show it, even when commits are published out of
id order (each process publishes after its own commit) or not heard here at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from quart import Quart
from quart.testing import QuartClient

from smsproxy import events
from smsproxy.models import EventRecord
from smsproxy.runtime import Runtime
from smsproxy.web.live import connection
from tests.web.test_live import Socket, emit, live, receive_events


@pytest.fixture
def client(agent_client: QuartClient) -> QuartClient:
    return agent_client


async def test_publishes_that_cross_still_reach_the_page_in_id_order(
    app: Quart, client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    broker = rt.broker
    publish = broker.publish
    second_published = asyncio.Event()

    async def publish_first_one_last(batch: list[events.Event]) -> None:
        # The first commit's publish is held until the second's is out: what two
        # requests (or two processes) whose after-commit steps interleave look like.
        if batch[0].data.get("n") == "first":
            await second_published.wait()
        await publish(batch)
        if batch[0].data.get("n") == "second":
            second_published.set()

    monkeypatch.setattr(broker, "publish", publish_first_one_last)
    async with subscribed(app, client, "chats") as ws:
        first = asyncio.create_task(emit(app, events.MessageCreated.name, "ch_a", n="first"))
        while not await _committed(rt, "first"):
            await asyncio.sleep(0.001)
        second = await emit(app, events.MessageCreated.name, "ch_a", n="second")
        assert await receive_events(ws, 2) == [await first, second]
        later = await emit(app, events.ChatClosed.name, "ch_a")
        assert await receive_events(ws, 1) == [later]


async def test_event_never_heard_here_is_filled_in_from_the_log(
    app: Quart, client: QuartClient
) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    async with subscribed(app, client, "chat:ch_a") as ws:
        # Committed, but its publish never reached this process (another process whose
        # Redis publish failed).
        async with rt.db.transaction() as session:
            unheard = EventRecord(name=events.MessageCreated.name, chat_public_id="ch_a")
            session.add(unheard)
        heard = await emit(app, events.MessageCreated.name, "ch_a", n="heard")
        assert await receive_events(ws, 2) == [unheard.id, heard]


async def test_gap_that_never_fills_holds_nothing_up(app: Quart, client: QuartClient) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    async with subscribed(app, client, "all") as ws:
        before = await emit(app, events.ChatCreated.name, "ch_a")
        # A hole in the ids, as a rolled-back PostgreSQL transaction leaves: an id
        # that is never committed (here: committed, never published, then deleted).
        async with rt.db.transaction() as session:
            hole = EventRecord(name=events.ChatClosed.name, chat_public_id="ch_a")
            after_hole = EventRecord(name=events.ChatClosed.name, chat_public_id="ch_a")
            session.add(hole)
            await session.flush()
            session.add(after_hole)
        async with rt.db.transaction() as session:
            await session.delete(await session.get(EventRecord, hole.id))
        assert after_hole.id == before + 2
        await rt.broker.publish([events.Event.from_record(after_hole)])
        assert await receive_events(ws, 2) == [before, before + 2]
        later = await emit(app, events.MessageCreated.name, "ch_a")
        assert await receive_events(ws, 1) == [later]


async def test_socket_that_falls_behind_catches_up_from_the_log(
    app: Quart, client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "MAX_QUEUED_EVENTS", 3)
    async with subscribed(app, client, "chat:ch_many") as ws:
        # Ten events this process never heard but the last: the feed reads them from the
        # log and queues them at once, faster than the socket sends.
        rt: Runtime = app.extensions["smsproxy"]
        async with rt.db.transaction() as session:
            rows = [
                EventRecord(name=events.MessageCreated.name, chat_public_id="ch_many")
                for _ in range(10)
            ]
            session.add_all(rows)
        ids = [row.id for row in rows]
        await rt.broker.publish([events.Event.from_record(rows[-1])])
        assert await receive_events(ws, 10) == ids
        later = await emit(app, events.MessageCreated.name, "ch_many")
        assert await receive_events(ws, 1) == [later]


@asynccontextmanager
async def subscribed(app: Quart, client: QuartClient, topic: str) -> AsyncIterator[Socket]:
    """A socket whose subscription is live: it has had an event from it."""
    async with live(client, topic) as ws:
        chat_id = topic.removeprefix("chat:") if topic.startswith("chat:") else "ch_a"
        marker = await emit(app, events.MessageCreated.name, chat_id, n="marker")
        assert await receive_events(ws, 1) == [marker]
        yield ws


async def _committed(rt: Runtime, marker: str) -> bool:
    async with rt.db.read() as session:
        found = await events.events_since(session, 0)
    return any(event.data.get("n") == marker for event in found)

""" "Someone is writing": a transient signal over the live socket, to the other staff on
the same chat, in every process (Redis), throttled, never stored."""

from __future__ import annotations

import uuid
from typing import Any

from quart import Quart
from quart.testing import QuartClient

from smsproxy import events
from smsproxy.app import create_app
from smsproxy.events.redis_broker import RedisBroker
from smsproxy.models import EventRecord
from smsproxy.runtime import Runtime
from tests.conftest import REDIS_URL, logged_in_client, make_settings, need_service
from tests.web.dashboard.pages import rows_of
from tests.web.test_live import Socket, emit, live, receive

START = {"type": "typing", "state": "start"}
STOP = {"type": "typing", "state": "stop"}


async def next_frame_is_event(app: Quart, ws: Socket, chat_id: str) -> dict[str, Any]:
    """Emit an event and return the socket's next frame: the event itself shows that
    no signal was queued before it."""
    await emit(app, events.ChatRead.name, chat_id, staff_user_id=0)
    return await receive(ws)


async def test_a_colleague_on_the_chat_hears_who_is_writing_and_the_writer_does_not(
    app: Quart, staff_client: QuartClient, agent_client: QuartClient
) -> None:
    elsewhere = await logged_in_client(app, "elsewhere", "agent")
    async with (
        live(staff_client, "chat:ch_a") as writer,
        live(agent_client, "chat:ch_a") as reader,
        live(elsewhere, "chat:ch_b") as other_chat,
    ):
        await writer.send_json(START)
        heard = await receive(reader)
        assert heard == {
            "type": "typing",
            "chat_id": "ch_a",
            "user_id": heard["user_id"],
            "user": "test-admin",
            "state": "start",
        }
        await writer.send_json(STOP)
        assert (await receive(reader))["state"] == "stop"
        assert (await next_frame_is_event(app, writer, "ch_a"))["type"] == "event"
        assert (await next_frame_is_event(app, other_chat, "ch_b"))["type"] == "event"
    rt: Runtime = app.extensions["smsproxy"]
    names = {r.name for r in await rows_of(rt, EventRecord)}
    assert "typing" not in names  # a signal, never an event of the log


async def test_starts_are_throttled_and_a_stop_needs_a_start(
    app: Quart, staff_client: QuartClient, agent_client: QuartClient
) -> None:
    async with (
        live(staff_client, "chat:ch_a") as writer,
        live(agent_client, "chat:ch_a") as reader,
    ):
        await writer.send_json(STOP)  # nothing started: nothing to stop
        for _ in range(5):
            await writer.send_json(START)
        assert (await receive(reader))["state"] == "start"
        await writer.send_json(STOP)
        await writer.send_json(STOP)
        assert (await receive(reader))["state"] == "stop"
        # One start, one stop: the other frames were dropped.
        assert (await next_frame_is_event(app, reader, "ch_a"))["type"] == "event"


async def test_typing_needs_a_chat_topic(staff_client: QuartClient) -> None:
    async with live(staff_client, "chats") as ws:
        await ws.send_json(START)
        assert await receive(ws) == {"type": "error", "message": "typing needs a chat:<id> topic"}


async def test_a_page_that_goes_while_writing_stops_the_signal(
    staff_client: QuartClient, agent_client: QuartClient
) -> None:
    async with live(agent_client, "chat:ch_a") as reader:
        async with live(staff_client, "chat:ch_a") as writer:
            await writer.send_json(START)
            assert (await receive(reader))["state"] == "start"
        assert (await receive(reader))["state"] == "stop"


async def test_the_signal_crosses_processes_through_redis(database_url: str) -> None:
    redis_url = need_service("Redis", REDIS_URL, "REDIS_URL")
    channel = f"smsproxy:test:{uuid.uuid4().hex}"

    def process() -> Quart:
        app = create_app(make_settings(database_url, redis_url=redis_url), background=False)
        app.extensions["smsproxy"].broker = RedisBroker(redis_url, channel=channel)
        return app

    one, two = process(), process()
    async with one.test_app(), two.test_app():
        writer_client = await logged_in_client(one, "writer", "agent")
        reader_client = await logged_in_client(two, "reader", "agent")
        async with (
            live(writer_client, "chat:ch_a") as writer,
            live(reader_client, "chat:ch_a") as reader,
        ):
            await writer.send_json(START)
            heard = await receive(reader)
            assert (heard["user"], heard["state"]) == ("writer", "start")


async def test_switching_topic_while_writing_stops_the_signal_in_the_old_chat(
    staff_client: QuartClient, agent_client: QuartClient
) -> None:
    async with (
        live(agent_client, "chat:ch_a") as reader,
        live(staff_client, "chat:ch_a") as writer,
    ):
        await writer.send_json(START)
        assert (await receive(reader))["state"] == "start"
        await writer.send_json({"type": "subscribe", "topic": "chat:ch_b", "since": None})
        stopped = await receive(reader)
        assert (stopped["chat_id"], stopped["state"]) == ("ch_a", "stop")

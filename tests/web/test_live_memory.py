"""A closed live socket leaves nothing behind in the server."""

from __future__ import annotations

import asyncio
import gc

from quart import Quart
from quart.testing import QuartClient

from smsproxy import events
from smsproxy.web.live import HUB_KEY, LiveHub
from smsproxy.web.live.connection import LiveConnection
from tests.web.test_live import emit, live, receive_events


def alive() -> int:
    gc.collect()
    return sum(isinstance(item, LiveConnection) for item in gc.get_objects())


async def test_closed_sockets_are_freed(app: Quart, agent_client: QuartClient) -> None:
    hub: LiveHub = app.extensions[HUB_KEY]
    assert alive() == 0
    for topic in ("chats", "chat:ch_a", "all"):
        async with live(agent_client, topic) as ws:
            event_id = await emit(app, events.MessageCreated.name, "ch_a")
            assert await receive_events(ws, 1) == [event_id]
        async with live(agent_client, topic) as ws:
            # Switched topics before leaving.
            await ws.send_json({"type": "subscribe", "topic": "chat:ch_b", "since": None})
            event_id = await emit(app, events.MessageCreated.name, "ch_b")
            assert await receive_events(ws, 1) == [event_id]
    async with asyncio.timeout(5):
        while len(hub):
            await asyncio.sleep(0.01)
    assert alive() == 0

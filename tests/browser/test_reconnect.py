"""A page whose live connection drops misses nothing: what is committed while it is
away shows up once it is back, without a reload.

The server drops every socket (`LiveHub.close_all()`, what a restart does). The page
then tries again within half a second, faster than the test could commit an event
and be sure it happened while the page was away. So, as a server that is still
restarting would, the test refuses the page's new connections (Playwright routes the
page's /live WebSocket) until the event is committed, then lets them through.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import BrowserContext, WebSocketRoute, expect

from smsproxy.proxy.routing import Outcome, Route
from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import (
    ALICE,
    BOB,
    PROXY_UK,
    TIMEOUT_MS,
    LiveServer,
    assert_not_reloaded,
    log_in,
    mark_page,
)
from tests.helpers import start_chat

SENT_WHILE_AWAY = "Sent while the dashboard was reconnecting"
CLOSE_TRY_AGAIN_LATER = 1013


class Gate:
    """Lets the page's live WebSockets through to the server, or refuses them."""

    def __init__(self) -> None:
        self.refusing = False
        self.refused = 0
        self.connected = 0
        self.tried_again = asyncio.Event()

    async def route(self, socket: WebSocketRoute) -> None:
        if self.refusing:
            self.refused += 1
            await socket.close(code=CLOSE_TRY_AGAIN_LATER, reason="restarting")
            self.tried_again.set()
        else:
            self.connected += 1
            socket.connect_to_server()


async def commit_while_away(server: LiveServer) -> Outcome:
    """On the server's loop: an SMS into the chat while no live socket is open."""
    assert len(server.hub) == 0, "a live socket is open before the event"
    outcome = await text_from_handset(
        server.runtime.db, server.runtime.routing, ALICE, PROXY_UK, SENT_WHILE_AWAY
    )
    assert len(server.hub) == 0, "a live socket opened while the event was committed"
    return outcome


async def test_event_committed_while_disconnected_arrives_after_reconnect(
    context: BrowserContext, server: LiveServer
) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob")))
    page = await context.new_page()
    gate = Gate()
    await page.route_web_socket(re.compile(r"/live$"), gate.route)
    await log_in(page)
    await page.goto(f"/chats/{view.chat.public_id}")
    live = page.locator("#live-status")
    await expect(live).to_have_text("Live")
    await mark_page(page)

    gate.refusing = True
    assert await server.run(server.hub.close_all()) >= 1
    await expect(live).to_have_attribute("data-state", "reconnecting")
    await expect(live).to_have_text("Reconnecting…")

    outcome = await server.run(commit_while_away(server))
    assert outcome.route == Route.routed
    missed = page.locator("#thread .bubble", has_text=SENT_WHILE_AWAY)
    await expect(missed).to_have_count(0)
    # The page keeps trying; once it has been turned away at least once, let it back.
    await asyncio.wait_for(gate.tried_again.wait(), TIMEOUT_MS / 1000)
    await expect(live).not_to_have_text("Live")
    gate.refusing = False
    await expect(missed).to_be_visible()
    await expect(missed.locator(".who")).to_have_text("Alice")
    await expect(live).to_have_text("Live")
    await expect(missed).to_have_count(1)
    await assert_not_reloaded(page)
    assert gate.refused >= 1 and gate.connected >= 2, (gate.refused, gate.connected)

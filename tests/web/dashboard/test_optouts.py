"""Opt-outs on the pages: the opt-out list, the chat page, the sandbox, keywords."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.web.dashboard.pages import (
    DRIVER,
    P2,
    RIDER,
    STRANGER,
    assert_masked,
    bubble,
    reply,
    text,
)


async def test_the_opt_out_page_lists_who_and_how_masked(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Stop")
    await text_from_handset(app_runtime.db, app_runtime.routing, STRANGER, P2, "UNSUBSCRIBE")

    html = await text(await agent_client.get("/opt-outs"))

    assert "+44770•••••01" in html and "+44770•••••99" in html
    assert "Texted <strong>UNSUBSCRIBE</strong> to" in html
    assert html.index("+44770•••••99") < html.index("+44770•••••01"), "newest first"
    assert 'href="/opt-outs" aria-current="page"' in html
    assert_masked(html)


async def test_the_chat_page_marks_the_opted_out_and_the_keyword(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, DRIVER, "STOP")

    html = await text(await staff_client.get(f"/chats/{chat.chat.public_id}"))

    badges = html.split('data-role="opted-out"')[1:]
    assert len(badges) == 2
    rider, driver = (badge.split(">", 1)[0] for badge in badges)
    assert "hidden" in rider and "hidden" not in driver
    stop = bubble(html, ">STOP<")
    assert "Not forwarded:</strong> STOP: opted out of SMS from every proxy number." in stop
    shown = re.sub(r"<[^>]+>", "", stop)  # the words, as a reader sees them
    assert "to Driver" in shown, "the confirmation went to the driver"
    assert_masked(html)


async def test_the_sandbox_shows_a_stopped_phone(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "stop")

    html = await text(await staff_client.get("/sandbox"))

    rider = html[html.index(f'data-phone="{RIDER}"') :]
    rider = rider[: rider.index("</header>")]
    assert "Opted out" in rider
    driver = html[html.index(f'data-phone="{DRIVER}"') :]
    assert "Opted out" not in driver[: driver.index("</header>")]

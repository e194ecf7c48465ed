"""Older messages on the chat page, in the browser: "Load older messages" puts each page
above the thread without moving what the reader looks at, and live messages still
arrive at the bottom afterwards."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import BrowserContext, Locator, Page, expect

from smsproxy.proxy.routing import Route
from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import (
    ALICE,
    BOB,
    PROXY_UK,
    LiveServer,
    assert_not_reloaded,
    log_in,
    mark_page,
    shoot,
)
from tests.helpers import start_chat
from tests.proxy.test_transcripts import body, write_messages

LIVE_TEXT = "Still there? Reading back through all this"


def bubble(page: Page, text: str) -> Locator:
    return page.locator("#thread-scroll .bubble", has_text=text)


async def offset_in_thread(page: Page, text: str) -> float:
    """Where a bubble sits in the visible part of the thread, in pixels from its top."""
    top: float = await bubble(page, text).evaluate(
        "(element) => element.getBoundingClientRect().top"
        " - document.getElementById('thread-scroll').getBoundingClientRect().top"
    )
    return top


async def test_load_older_keeps_the_reader_in_place_and_live_goes_on(
    context: BrowserContext, server: LiveServer, screenshots: Path
) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob")))
    await server.run(write_messages(rt, view, 450))
    page = await context.new_page()
    await log_in(page)
    await page.goto(f"/chats/{view.chat.public_id}")
    await expect(page.locator("#live-status")).to_have_text("Live")
    await mark_page(page)
    bubbles = page.locator("#thread-scroll .bubble")
    await expect(bubbles).to_have_count(200)
    await expect(bubble(page, body(449))).to_be_in_viewport()  # opens at the newest

    load_older = page.get_by_role("link", name="Load older messages")
    await page.locator("#thread-scroll").evaluate("(element) => element.scrollTop = 0")
    await shoot(page, screenshots, "chat-older-messages")
    for oldest_shown, loaded in ((body(250), 200), (body(50), 50)):
        await page.locator("#thread-scroll").evaluate("(element) => element.scrollTop = 0")
        await expect(load_older).to_be_in_viewport()
        before = await offset_in_thread(page, oldest_shown)
        count = await bubbles.count()
        await load_older.click()
        await expect(bubbles).to_have_count(count + loaded)
        assert abs(await offset_in_thread(page, oldest_shown) - before) <= 1
        status = page.locator("#thread-older-status")
        await expect(status).to_have_text(f"Loaded {loaded} older messages.")

    await expect(bubbles.first.locator(".bubble-body")).to_have_text(body(0))
    await expect(load_older).to_have_count(0)
    await expect(page.get_by_text("The conversation starts here.")).to_be_attached()
    assert await page.locator("#thread .bubble").count() == 200  # older ones sit above it

    # Scrolled up reading old messages: a new one lands at the bottom and a button says so.
    outcome = await server.run(text_from_handset(rt.db, rt.routing, ALICE, PROXY_UK, LIVE_TEXT))
    assert outcome.route == Route.routed
    arrived = page.locator("#thread .bubble").last
    await expect(arrived).to_contain_text(LIVE_TEXT)
    await expect(arrived.locator('[data-role="status"]')).to_have_text("Delivered")
    await expect(page.get_by_role("button", name="New messages ↓")).to_be_visible()
    await expect(bubbles).to_have_count(451)
    await assert_not_reloaded(page)

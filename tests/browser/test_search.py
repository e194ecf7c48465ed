"""Searching messages in the browser: a word typed in the sidebar's search box finds its
hits, and a hit opens its chat at that message, highlighted, far back in the chat."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.async_api import BrowserContext, expect

from smsproxy.models import AuthorKind, Message
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.browser.conftest import ALICE, BOB, LiveServer, log_in, shoot
from tests.helpers import start_chat
from tests.proxy.test_transcripts import time_of, write_messages

NEEDLE = "Found the lighthouse keys under the blue mat"


async def old_needle(rt: Runtime, view: ChatView) -> None:
    """NEEDLE among the first of 450 messages: far beyond the chat page's first 200."""
    await write_messages(rt, view, 450)
    async with rt.db.transaction() as session:
        session.add(
            Message(
                chat_id=view.chat.id,
                author_kind=AuthorKind.participant,
                participant_id=view.participants[0].id,
                body=NEEDLE,
                created_at=time_of(150) + timedelta(milliseconds=1),
            )
        )


async def test_a_word_finds_the_message_and_opens_it_in_its_chat(
    context: BrowserContext, server: LiveServer, screenshots: Path
) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob")))
    await server.run(old_needle(rt, view))
    page = await context.new_page()
    await log_in(page)

    box = page.get_by_role("searchbox", name="Search messages")
    await box.fill("lighthou")
    await box.press("Enter")

    await expect(page).to_have_url(re.compile(r"/search\?q=lighthou$"))
    hits = page.locator("#search-hits .search-hit")
    await expect(hits).to_have_count(1)
    await expect(hits.first.locator("mark")).to_have_text("lighthouse")
    await expect(hits.first).to_contain_text("+44770•••••01")
    await shoot(page, screenshots, "search")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shoot(page, screenshots, "search-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})

    await hits.first.get_by_role("link").click()

    await expect(page).to_have_url(re.compile(rf"/chats/{view.chat.public_id}\?around=msg_"))
    found = page.locator("#thread-scroll .bubble.is-found")
    await expect(found).to_contain_text(NEEDLE)
    await expect(found).to_be_in_viewport()
    await page.wait_for_load_state("load")
    assert await page.evaluate("window.scrollY") == 0  # the thread scrolled, not the window
    assert await found.evaluate("(e) => getComputedStyle(e).outlineStyle") == "solid"
    # Only that stretch of the chat: newer messages are a link away, older ones a button.
    await expect(page.get_by_role("link", name="Latest messages ↓")).to_be_attached()
    await expect(page.get_by_role("link", name="Load older messages")).to_be_attached()
    # The window as the reader sees it (the thread scrolls inside the page).
    await page.screenshot(path=str(screenshots / "search-found-message.png"), animations="disabled")

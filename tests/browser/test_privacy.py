"""Screened texts and opt-outs on the chat page, in the browser: a held text is released
from one tab and the other tab shows it forwarded, live; a STOP marks the participant
opted out without a reload."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

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

LEAK = "Easier by phone: ring me on 07700 900 123"


async def open_chat(context: BrowserContext, chat_id: str) -> Page:
    page = await context.new_page()
    await page.goto(f"/chats/{chat_id}")
    await expect(page.locator("#live-status")).to_have_text("Live")
    await mark_page(page)
    return page


async def test_a_held_text_released_in_one_tab_shows_in_the_other(
    context: BrowserContext, server: LiveServer, screenshots: Path
) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob")))
    first = await context.new_page()
    await log_in(first)
    deciding = await open_chat(context, view.chat.public_id)
    watching = await open_chat(context, view.chat.public_id)
    await first.close()

    hold = replace(rt.routing, contact_policy="hold")
    outcome = await server.run(text_from_handset(rt.db, hold, ALICE, PROXY_UK, LEAK))
    assert outcome.route == Route.held

    for page in (deciding, watching):
        held = page.locator("#thread .bubble", has_text=LEAK)
        await expect(held.locator('[data-role="screening"]')).to_contain_text(
            "Held: it contains a phone number."
        )
    await shoot(deciding, screenshots, "chat-held-message")
    bubble = deciding.locator("#thread .bubble", has_text=LEAK)
    await bubble.get_by_role("button", name="Release").click()
    await deciding.get_by_role("dialog").get_by_role("button", name="Release").click()

    await expect(deciding.get_by_text("Released: forwarded to 1 participant.")).to_be_visible()
    seen = watching.locator("#thread .bubble", has_text=LEAK)
    await expect(seen.locator('[data-role="screening"]')).to_contain_text("Released by staff")
    await expect(seen.locator('[data-role="status"]')).to_have_text("Delivered")
    await expect(seen.get_by_role("button", name="Release")).to_have_count(0)
    await assert_not_reloaded(watching)


async def test_stop_marks_the_participant_live(context: BrowserContext, server: LiveServer) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob")))
    first = await context.new_page()
    await log_in(first)
    page = await open_chat(context, view.chat.public_id)
    alice = page.locator(".person", has_text="Alice").locator('[data-role="opted-out"]')
    await expect(alice).to_be_hidden()

    await server.run(text_from_handset(rt.db, rt.routing, ALICE, PROXY_UK, "STOP"))

    await expect(alice).to_be_visible()
    stop = page.locator("#thread .bubble", has_text="STOP")
    await expect(stop.locator('[data-role="screening"]')).to_contain_text("Not forwarded")
    await assert_not_reloaded(page)

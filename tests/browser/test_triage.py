"""Triage in Chromium: take a chat and see it arrive in another browser's "Mine",
label it and filter by the label, close two chats at once, save a view and use it.
One server and one logged-in browser for the module; a second profile where a test
needs a colleague's screen."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, ViewportSize, expect

from smsproxy.proxy.queries import ChatView
from tests.browser.conftest import (
    MODULE_LOOP,
    TIMEOUT_MS,
    LiveServer,
    assert_not_reloaded,
    log_in,
    mark_page,
    shoot,
)
from tests.helpers import start_chat

pytestmark = [pytest.mark.browser, MODULE_LOOP]

PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest_asyncio.fixture(loop_scope="module")
async def other_page(module_browser: Browser, module_server: LiveServer) -> AsyncIterator[Page]:
    """A second browser profile (its own cookies and socket), logged in too."""
    context = await module_browser.new_context(
        base_url=module_server.base_url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    value = await context.new_page()
    await log_in(value)
    yield value
    await context.close()


async def chat_of(server: LiveServer, first: str, second: str, n: int) -> ChatView:
    people = ((f"+4477009002{n:02d}", first), (f"+4477009003{n:02d}", second))
    return await server.run(start_chat(server.runtime, *people))


def row(page: Page, view: ChatView):  # type: ignore[no-untyped-def]
    return page.locator(f"#chat-{view.chat.public_id}")


async def test_take_a_chat_and_another_browser_sees_it_live(
    page: Page, other_page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    view = await chat_of(module_server, "Tara", "Uma", 1)
    await other_page.goto("/chats?view=mine")
    await mark_page(other_page)
    await expect(other_page.locator("#live-status")).to_have_text("Live")
    await expect(row(other_page, view)).to_have_count(0)

    await page.goto(f"/chats/{view.chat.public_id}")
    panel = page.locator("#chat-triage")
    await expect(panel.get_by_text("Nobody yet")).to_be_visible()
    await panel.get_by_role("button", name="Take").click()
    await expect(page.get_by_text("You took the chat.")).to_be_visible()
    await expect(panel.locator(".assignee-chip")).to_have_text("browser-admin")
    await shoot(page, screenshots, "chat-assigned")

    # The other browser's "Mine" gets the row without a reload, with its assignee.
    await expect(row(other_page, view)).to_be_visible()
    await expect(row(other_page, view).locator(".assignee-chip")).to_have_text("You")
    await assert_not_reloaded(other_page)

    # And its open chat page follows an unassignment made elsewhere.
    await other_page.goto(f"/chats/{view.chat.public_id}")
    await mark_page(other_page)
    await expect(other_page.locator("#live-status")).to_have_text("Live")
    await page.locator("#assignee-select").select_option("")
    await page.locator("#chat-triage").get_by_role("button", name="Assign").click()
    await expect(page.get_by_text("The chat is unassigned.")).to_be_visible()
    await expect(other_page.locator("#chat-triage").get_by_text("Nobody yet")).to_be_visible()
    await assert_not_reloaded(other_page)


async def test_label_a_chat_and_filter_by_the_label(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    labelled = await chat_of(module_server, "Vera", "Walt", 2)
    plain = await chat_of(module_server, "Xena", "Yuri", 3)
    await page.goto(f"/chats/{labelled.chat.public_id}")
    await page.get_by_label("Add a label").fill("  Refund Due ")
    await page.locator("#chat-triage").get_by_role("button", name="Add").click()
    await expect(page.get_by_text("Label added.")).to_be_visible()
    await expect(page.locator("#chat-triage .label-chip")).to_contain_text("refund due")

    await page.goto("/chats")
    await expect(row(page, labelled).locator(".label-chip")).to_have_text("refund due")
    await expect(page.get_by_label("Label", exact=True)).to_be_hidden()  # folded away
    await page.get_by_text("Filters and sort").click()
    await page.get_by_label("Label", exact=True).select_option("refund due")
    await page.get_by_role("button", name="Apply", exact=True).click()
    await expect(page).to_have_url(re.compile(r".*label=refund\+due"))
    await expect(row(page, labelled)).to_be_visible()
    await expect(row(page, plain)).to_have_count(0)
    await expect(page.get_by_label("Label", exact=True)).to_have_value("refund due")
    await shoot(page, screenshots, "chats-filtered-by-label")
    await page.set_viewport_size(PHONE)
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the filtered list is {overflow}px wider than a phone"
    await shoot(page, screenshots, "chats-filtered-by-label-phone")


async def test_bulk_close_two_chats(page: Page, module_server: LiveServer) -> None:
    first = await chat_of(module_server, "Zack", "Abel", 4)
    second = await chat_of(module_server, "Beth", "Carl", 5)
    kept = await chat_of(module_server, "Dana", "Eric", 6)
    await page.goto("/chats")
    await row(page, first).get_by_role("checkbox").check()
    await row(page, second).get_by_role("checkbox").check()
    await expect(page.locator('[data-role="selected-count"]')).to_have_text("2 selected")
    await page.get_by_label("With the selected").select_option("close")
    await page.get_by_role("button", name="Apply to selected").click()
    await expect(page.get_by_text("2 of 2 chats closed.")).to_be_visible()
    await expect(row(page, first)).to_have_count(0)  # the list shows active chats
    await expect(row(page, second)).to_have_count(0)
    await expect(row(page, kept)).to_be_visible()
    await page.goto("/chats?status=closed")
    await expect(row(page, first).locator(".badge-closed")).to_be_visible()
    await expect(row(page, second).locator(".badge-closed")).to_be_visible()


async def test_select_all_shown_ticks_every_row(page: Page, module_server: LiveServer) -> None:
    await chat_of(module_server, "Finn", "Gail", 7)
    await page.goto("/chats")
    boxes = page.locator('input[name="chat"][form="bulk"]')
    await page.get_by_label("Select all shown").check()
    count = await boxes.count()
    assert count >= 1
    for index in range(count):
        await expect(boxes.nth(index)).to_be_checked()
    await boxes.first.uncheck()
    await expect(page.get_by_label("Select all shown")).not_to_be_checked()


async def test_save_a_view_and_use_it(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    waiting = await chat_of(module_server, "Hugo", "Iris", 8)
    await page.goto("/chats?view=unassigned&sort=created")
    await page.get_by_text("Save this view…").click()
    await page.get_by_label("Name", exact=True).fill("New and nobody's")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text("Saved the view “New and nobody's”.")).to_be_visible()
    saved = page.get_by_role("navigation", name="Saved views").get_by_role(
        "link", name="New and nobody's"
    )
    await expect(saved).to_have_attribute("aria-current", "page")
    await shoot(page, screenshots, "chats-saved-view")

    await page.goto("/chats?status=closed")
    await saved.click()
    await expect(page).to_have_url(re.compile(r".*view=unassigned&sort=created"))
    await expect(page.get_by_role("link", name="Unassigned")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(row(page, waiting)).to_be_visible()
    await page.get_by_role("button", name="delete the saved view New and nobody's").click()
    await expect(page.get_by_text("Deleted the view “New and nobody's”.")).to_be_visible()
    await expect(saved).to_have_count(0)

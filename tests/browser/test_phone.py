"""At phone size (390 by 844): the chat list, a chat and the new-chat form fit the width
with every control reachable; and a row arriving live on the chat list does not move
the row under the pointer, nor shift the layout (Cumulative Layout Shift below 0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, ViewportSize, expect

from smsproxy.proxy.queries import ChatView
from tests.browser.conftest import MODULE_LOOP, LiveServer, shoot
from tests.helpers import start_chat

pytestmark = [pytest.mark.browser, MODULE_LOOP]

PHONE: ViewportSize = {"width": 390, "height": 844}

# Every control a person may need, and where it is: outside [0, width] is out of reach.
CONTROLS_OUT_OF_REACH = """
(width) => [...document.querySelectorAll(
    "main a[href], main button, main input:not([type=hidden]), main select, main textarea,"
    + "main summary"
  )]
  .filter((element) => element.getClientRects().length)
  .filter((element) => !element.closest("[hidden], details:not([open]) > :not(summary)"))
  .filter((element) => {
    const box = element.getBoundingClientRect();
    return box.left < -1 || box.right > width + 1;
  })
  .map((element) => element.outerHTML.slice(0, 120))
"""

SHIFTS = """
window.__shift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.__shift += entry.value;
  }
}).observe({ type: "layout-shift", buffered: false });
"""


@pytest_asyncio.fixture(loop_scope="module")
async def page(admin_context: BrowserContext) -> AsyncIterator[Page]:
    value = await admin_context.new_page()
    await value.set_viewport_size(PHONE)
    errors: list[str] = []
    value.on("pageerror", lambda error: errors.append(str(error)))
    yield value
    await value.close()
    assert errors == [], f"script errors on the page: {errors}"


async def chat_of(server: LiveServer, n: int) -> ChatView:
    people = (f"+4477009006{n:02d}", f"Rider {n}"), (f"+4477009007{n:02d}", f"Driver {n}")
    return await server.run(start_chat(server.runtime, *people))


async def fits(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"
    assert await page.evaluate(CONTROLS_OUT_OF_REACH, PHONE["width"]) == []


async def test_pages_fit_a_phone(page: Page, module_server: LiveServer, screenshots: Path) -> None:
    view = await chat_of(module_server, 1)
    for path in ("/chats", f"/chats/{view.chat.public_id}", "/chats/new"):
        await page.goto(path)
        await expect(page.locator("#live-status")).to_have_text("Live")
        await fits(page)
    # The chat page's panels open within the screen too.
    await page.goto(f"/chats/{view.chat.public_id}")
    await page.get_by_text("Close chat…").click()
    await expect(page.locator("#chat-actions .popover-panel")).to_be_visible()
    await fits(page)
    await page.keyboard.press("Escape")
    await page.get_by_text("Extend…").click()
    await expect(page.get_by_label("Idle limit")).to_be_visible()
    await fits(page)
    await shoot(page, screenshots, "chat-extend-phone")
    await expect(page.get_by_role("button", name="Send")).to_be_visible()


async def test_a_live_row_does_not_move_the_row_under_the_pointer(
    page: Page, module_server: LiveServer
) -> None:
    for n in range(10, 18):
        await chat_of(module_server, n)
    # A phone's width, and tall enough that the list's tools leave its first rows on
    # screen without scrolling: the pointer rests on the second row.
    await page.set_viewport_size({"width": PHONE["width"], "height": 2000})
    await page.goto("/chats")
    await expect(page.locator("#live-status")).to_have_text("Live")
    rows = page.locator('[data-live-list="chats"] .inbox-row')
    target = page.locator(f"#chat-{await rows.nth(1).get_attribute('data-item-id')}")
    box = await target.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.evaluate(SHIFTS)
    count = await rows.count()

    fresh = await chat_of(module_server, 30)
    await expect(page.locator(f"#chat-{fresh.chat.public_id}")).to_be_attached()
    await expect(rows).to_have_count(count + 1)
    after = await target.bounding_box()
    assert after is not None
    assert abs(after["y"] - box["y"]) <= 1, (box, after)
    await page.wait_for_timeout(300)  # let the observer report the last frame
    shift = await page.evaluate("window.__shift")
    assert shift < 0.1, f"layout shift {shift}"

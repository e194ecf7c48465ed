"""The pages the conversation test does not pass through, with something on them, saved
as screenshots; and the chat page on a phone-sized screen."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import BrowserContext, ViewportSize, expect

from smsproxy.phone import mask
from smsproxy.proxy.routing import Route
from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import (
    ALICE,
    BOB,
    PROXY_UK,
    PROXY_US,
    LiveServer,
    assert_fits_width,
    log_in,
    shoot,
)
from tests.helpers import create_api_key, start_chat

STRANGER = "+447700900999"
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
LONG_SMS = (
    "Running ten minutes late, sorry! The ring road is closed at the roundabout so I'm "
    "going round by the retail park; look for a blue estate car with a roof box."
)


async def test_screenshots_of_numbers_unrouted_keys_and_chat_on_a_phone(
    context: BrowserContext, server: LiveServer, screenshots: Path
) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"), intro=True))
    for sender, proxy, text in (
        (ALICE, PROXY_UK, LONG_SMS),
        (BOB, PROXY_US, "No problem, I'll wait by the main entrance"),
        (STRANGER, PROXY_UK, "Hello? Is this still the booking line?"),
    ):
        outcome = await server.run(text_from_handset(rt.db, rt.routing, sender, proxy, text))
        assert outcome.route == (Route.unrouted if sender == STRANGER else Route.routed)
    await server.run(create_api_key(rt, "Booking system"))

    page = await context.new_page()
    await log_in(page)

    await page.goto("/numbers")
    await expect(page.get_by_role("heading", name="Numbers", level=1)).to_be_visible()
    await expect(page.locator("main")).to_contain_text(PROXY_UK)
    await expect(page.locator("main")).to_contain_text(PROXY_US)
    await shoot(page, screenshots, "numbers")

    await page.goto("/unrouted")
    row = page.locator(".unrouted-row", has_text="Is this still the booking line?")
    await expect(row).to_contain_text(mask(STRANGER))
    await expect(page.locator("main")).not_to_contain_text(STRANGER)
    await shoot(page, screenshots, "unrouted")

    await page.goto("/api-keys")
    await expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    await expect(page.get_by_role("rowheader", name="Booking system")).to_be_visible()
    await shoot(page, screenshots, "api-keys")

    await page.set_viewport_size(PHONE_VIEWPORT)
    await page.goto(f"/chats/{view.chat.public_id}")
    await expect(page.locator("#live-status")).to_have_text("Live")
    await expect(page.locator("#thread .bubble", has_text="ring road")).to_be_visible()
    await expect(page.locator("#thread .bubble", has_text="main entrance")).to_be_visible()
    # Two intros in one row once both are delivered, then one SMS for each message.
    statuses = page.locator('#thread [data-role="status"]')
    await expect(page.locator("#thread .recipient")).to_have_count(4)
    await expect(statuses).to_have_count(3)
    for index in range(3):
        await expect(statuses.nth(index)).to_have_attribute("data-status", "delivered")
    await expect(page.locator("main")).not_to_contain_text(ALICE)
    await expect(page.locator("main")).not_to_contain_text(BOB)
    await assert_fits_width(page)
    await shoot(page, screenshots, "chat-phone")

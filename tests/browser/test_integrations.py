"""The Integrations page in a real browser: the secret's Copy button puts it on the
clipboard, and a test event reaches a real receiver and shows in the delivery log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import LiveServer, log_in, shoot
from tests.fakes.receiver import Receiver

pytest_plugins = ["tests.fakes.webhook_receiver"]
pytestmark = pytest.mark.browser

SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=]{40,}$")


async def test_add_an_endpoint_copy_its_secret_and_ping_it(
    context: BrowserContext, server: LiveServer, receiver: Receiver, screenshots: Path
) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await log_in(page)
    await page.get_by_role("link", name="Integrations").click()
    await expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()

    await page.get_by_label("URL").fill(receiver.url("/hooks"))
    await page.get_by_label("Description").fill("Booking service")
    await page.get_by_label("Every event type").check()
    await page.get_by_role("button", name="Add endpoint").click()
    secret_field = page.locator("#new-secret")
    await expect(secret_field).to_have_value(SECRET)
    secret = await secret_field.input_value()
    copy = page.get_by_role("button", name="Copy")
    await expect(copy).to_be_visible()  # unhidden by the page's script
    await copy.click()
    await expect(page.locator("[data-copy-status]")).to_have_text("Copied to the clipboard")
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await shoot(page, screenshots, "integrations-created")
    receiver.verify_with("/hooks", secret)

    await page.get_by_role("link", name="Go to the endpoint").click()
    await page.get_by_role("button", name="Send a test event").click()
    await expect(page.locator(".flash-success")).to_contain_text("Test event delivered")
    await expect(page.locator(".delivery-log")).to_contain_text("ping")
    await expect(page.locator(".delivery-log")).to_contain_text("204")
    [ping] = receiver.received
    assert ping.verified and ping.type == "ping"
    await shoot(page, screenshots, "integration-endpoint")

    await page.get_by_role("link", name="Integrations", exact=True).first.click()
    await expect(page.locator("main")).not_to_contain_text(secret)
    await expect(page.locator("main")).to_contain_text("Booking service")

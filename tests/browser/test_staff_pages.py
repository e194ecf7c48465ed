"""Staff management in the browser: an admin adds someone, who logs in with the
one-time password and must choose their own before anything else; then the admin
disables them (through the confirmation dialog) and their open page goes dead."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.browser.conftest import LOGIN_URL, LiveServer, log_in, shoot

pytestmark = pytest.mark.browser

NEW_PASSWORD = "purple kettle seventeen"


async def test_one_time_password_then_disable(
    browser: Browser, context: BrowserContext, server: LiveServer, screenshots: Path
) -> None:
    admin = await context.new_page()
    await log_in(admin)
    await admin.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    await expect(admin.get_by_role("heading", name="Staff", level=1)).to_be_visible()
    await admin.get_by_label("Username").fill("dana")
    await admin.get_by_label("Role").select_option("agent")
    await admin.get_by_role("button", name="Add", exact=True).click()
    await expect(admin.get_by_role("heading", name="Account created")).to_be_visible()
    password = await admin.get_by_label("One-time password").input_value()
    assert len(password) >= 16
    await shoot(admin, screenshots, "staff-created")

    # Dana, in a browser of her own.
    dana_context = await browser.new_context(base_url=server.base_url)
    try:
        dana = await dana_context.new_page()
        await dana.goto("/numbers")
        await expect(dana).to_have_url(LOGIN_URL)
        await dana.get_by_label("Username").fill("dana")
        await dana.get_by_label("Password").fill(password)
        await dana.get_by_role("button", name="Log in").click()
        await expect(dana.get_by_role("heading", name="Choose your password")).to_be_visible()
        await expect(dana.get_by_role("navigation", name="Main")).to_have_count(0)
        await shoot(dana, screenshots, "account-first-login")

        await dana.get_by_label("One-time password").fill(password)
        await dana.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await dana.get_by_label("New password again").fill(NEW_PASSWORD + " typo")
        await dana.get_by_role("button", name="Save my password").click()
        await expect(dana.locator(".field-error")).to_have_text(
            "The two new passwords are not the same"
        )
        await dana.get_by_label("One-time password").fill(password)
        await dana.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await dana.get_by_label("New password again").fill(NEW_PASSWORD)
        await dana.get_by_role("button", name="Save my password").click()
        await expect(dana.get_by_role("heading", name="Numbers", level=1)).to_be_visible()
        await expect(dana.locator(".flash-success")).to_contain_text("Your password is changed")

        await dana.goto("/chats")
        await expect(dana.locator("#live-status")).to_have_attribute("data-state", "live")

        await admin.goto("/staff")
        row = admin.locator("#staff-dana")
        await expect(row).to_contain_text("Active")
        await shoot(admin, screenshots, "staff")
        await row.get_by_role("button", name="Disable").click()
        dialog = admin.get_by_role("dialog")
        await expect(dialog).to_contain_text("Disable dana?")
        await dialog.get_by_role("button", name="Disable").click()
        await expect(admin.locator(".flash-success")).to_contain_text("dana is disabled")
        await expect(row).to_contain_text("Disabled")

        # Her open page loses its live connection at once, and nothing opens again.
        await expect(dana.locator("#live-status")).not_to_have_attribute("data-state", "live")
        await dana.reload()
        await expect(dana).to_have_url(LOGIN_URL)
    finally:
        await dana_context.close()

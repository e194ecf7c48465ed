"""The chat page as a staff workspace, in real Chromium, with two colleagues at once:
an admin (the seeded one) and an agent, each in a browser profile of their own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from smsproxy.models import Role
from smsproxy.proxy import users
from smsproxy.proxy.queries import ChatView
from tests.browser.conftest import MODULE_LOOP, TIMEOUT_MS, assert_fits_width, shoot
from tests.helpers import start_chat
from tests.live_server import LiveServer

pytestmark = [pytest.mark.browser, MODULE_LOOP]

AGENT, AGENT_PASSWORD = "agent-jo", "agent password for browser tests"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent_context(
    module_browser: Browser, module_server: LiveServer
) -> AsyncIterator[BrowserContext]:
    """A second colleague: an agent, logged in through the form in a profile of their own."""

    async def add_agent() -> None:
        async with module_server.runtime.db.transaction() as session:
            await users.create_user(session, AGENT, AGENT_PASSWORD, Role.agent, actor="tests")

    await module_server.run(add_agent())
    value = await module_browser.new_context(
        base_url=module_server.base_url,
        viewport={"width": 1280, "height": 800},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    value.set_default_timeout(TIMEOUT_MS)
    try:
        page = await value.new_page()
        await page.goto("/login")
        await page.get_by_label("Username").fill(AGENT)
        await page.get_by_label("Password").fill(AGENT_PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Chats", exact=True)).to_be_visible()
        await page.close()
        yield value
    finally:
        await value.close()


async def open_page(context: BrowserContext, path: str) -> tuple[Page, list[str]]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(path)
    await expect(page.locator("#live-status")).to_have_text("Live")
    return page, errors


def re_text(title: str) -> re.Pattern[str]:
    """An option's text: its title, then a preview of the reply."""
    return re.compile("^" + re.escape(title))


async def new_chat(server: LiveServer, first: str, second: str) -> ChatView:
    people = ((first, "Rider"), (second, "Driver"))
    return await server.run(start_chat(server.runtime, *people, intro=True))


async def test_a_note_shows_live_in_a_colleagues_page_as_a_note_card(
    admin_context: BrowserContext,
    agent_context: BrowserContext,
    module_server: LiveServer,
    screenshots: Path,
) -> None:
    chat = await new_chat(module_server, "+447700900011", "+447700900012")
    path = f"/chats/{chat.chat.public_id}"
    mine, my_errors = await open_page(admin_context, path)
    theirs, their_errors = await open_page(agent_context, path)

    composer = mine.locator("#composer")
    await composer.get_by_label("Private note — not sent").check()
    await expect(composer.get_by_role("button", name="Add note")).to_be_visible()
    await expect(composer.get_by_label("To")).to_be_hidden()
    await mine.get_by_role("textbox", name="Message").fill("Rider asked for a female driver")
    await composer.get_by_role("button", name="Add note").click()

    for page in (mine, theirs):
        card = page.locator("#thread .note-card", has_text="Rider asked for a female driver")
        await expect(card).to_be_visible()
        await expect(card.locator(".who")).to_have_text("browser-admin")
        await expect(card).to_contain_text("Private note")
    await expect(mine.get_by_role("textbox", name="Message")).to_have_value("")
    # The composer stays a note composer until "Message" is chosen again.
    await expect(composer.get_by_label("Private note — not sent")).to_be_checked()
    # The note card looks unlike a message: its own (yellow-ish) background.
    card = theirs.locator("#thread .note-card")
    message = theirs.locator("#thread .bubble.from-system").first
    note_colour = await card.evaluate("e => getComputedStyle(e).backgroundColor")
    message_colour = await message.evaluate("e => getComputedStyle(e).backgroundColor")
    assert note_colour != message_colour
    # It was not sent: the only SMS of the chat are its two intros.
    await expect(theirs.locator("#thread .bubble[data-message-id]")).to_have_count(1)
    await shoot(mine, screenshots, "chat-note")
    await theirs.set_viewport_size(PHONE)
    await theirs.locator("#composer").get_by_label("Private note — not sent").check()
    await assert_fits_width(theirs)
    await shoot(theirs, screenshots, "chat-note-phone")
    await theirs.set_viewport_size(DESKTOP)
    await mine.emulate_media(color_scheme="dark")
    await shoot(mine, screenshots, "chat-note-dark")
    for page in (mine, theirs):
        await page.close()
    assert my_errors == [] and their_errors == []


async def test_a_colleague_sees_who_is_writing_until_they_stop_or_send(
    admin_context: BrowserContext,
    agent_context: BrowserContext,
    module_server: LiveServer,
    screenshots: Path,
) -> None:
    chat = await new_chat(module_server, "+447700900021", "+447700900022")
    path = f"/chats/{chat.chat.public_id}"
    watcher, watcher_errors = await open_page(admin_context, path)
    writer, writer_errors = await open_page(agent_context, path)
    indicator = watcher.locator("#typing-note")
    await expect(indicator).to_be_hidden()

    composer = writer.get_by_role("textbox", name="Message")
    await composer.press_sequentially("Your driver is", delay=40)
    await expect(indicator).to_have_text(f"{AGENT} is writing…")
    await expect(indicator).to_be_visible()
    await shoot(watcher, screenshots, "chat-someone-writing")
    # The writer never sees their own indicator.
    await expect(writer.locator("#typing-note")).to_be_hidden()
    # Idle: it goes a few seconds after the last keystroke.
    stopped_typing = await writer.evaluate("Date.now()")
    await expect(indicator).to_be_hidden(timeout=10_000)
    gone_after = (await writer.evaluate("Date.now()")) - stopped_typing
    assert 3_000 <= gone_after <= 9_000, gone_after

    # Sending ends it at once.
    await composer.press_sequentially(" on his way", delay=40)
    await expect(indicator).to_be_visible()
    await writer.get_by_role("button", name="Send").click()
    await expect(indicator).to_be_hidden(timeout=2_500)
    await expect(
        watcher.locator("#thread .bubble", has_text="Your driver is on his way")
    ).to_be_visible()
    for page in (watcher, writer):
        await page.close()
    assert watcher_errors == [] and writer_errors == []


async def add_reply_on_page(page: Page, title: str, body: str) -> None:
    await page.get_by_label("Title", exact=True).first.fill(title)
    await page.get_by_label("Text", exact=True).first.fill(body)
    await page.get_by_role("button", name="Add reply").click()
    await expect(page.get_by_role("heading", name=title, level=3)).to_be_visible()


async def test_an_agent_inserts_an_admins_canned_reply_with_the_keyboard(
    admin_context: BrowserContext,
    agent_context: BrowserContext,
    module_server: LiveServer,
    screenshots: Path,
) -> None:
    admin, admin_errors = await open_page(admin_context, "/canned-replies")
    await (
        admin.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Canned replies")
        .click()
    )
    await expect(admin.get_by_role("heading", name="Canned replies", level=1)).to_be_visible()
    await add_reply_on_page(admin, "Running late", "Your driver is running about 5 minutes late.")
    address = "Could you confirm the pick-up address, please?"
    await add_reply_on_page(admin, "Address confirmation", address)
    await shoot(admin, screenshots, "canned-replies")
    await admin.set_viewport_size(PHONE)
    await admin.locator(".reply", has_text="Running late").locator("summary").click()
    await assert_fits_width(admin)
    await shoot(admin, screenshots, "canned-replies-phone")

    chat = await new_chat(module_server, "+447700900031", "+447700900032")
    agent, agent_errors = await open_page(agent_context, f"/chats/{chat.chat.public_id}")
    composer = agent.get_by_role("textbox", name="Message")
    listbox = agent.get_by_role("listbox", name="Canned replies")
    options = listbox.get_by_role("option")

    await composer.press_sequentially("/")
    await expect(options).to_have_text([re_text("Address confirmation"), re_text("Running late")])
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await composer.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await expect(composer).to_have_attribute(
        "aria-activedescendant", await options.nth(1).get_attribute("id") or ""
    )
    await composer.press("Escape")
    await expect(listbox).to_be_hidden()
    await expect(composer).to_have_value("/")

    await composer.fill("")
    await composer.press_sequentially("/add", delay=30)
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("Address confirmation")
    await shoot(agent, screenshots, "chat-canned-replies")
    await composer.press("Enter")
    await expect(listbox).to_be_hidden()
    await expect(composer).to_have_value(address)
    await composer.press("Control+Enter")
    await expect(agent.locator("#thread .bubble.from-staff", has_text=address)).to_be_visible()
    await expect(composer).to_have_value("")
    for page in (admin, agent):
        await page.close()
    assert admin_errors == [] and agent_errors == []

"""Keyboard first, in Chromium: j/k through the chat list and Enter to open, the `?`
overlay, the Ctrl+K palette, the chat page's keys; and reopening and extending a chat
from its page. One server and one logged-in browser for the module."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from smsproxy.db import utcnow
from smsproxy.proxy.chats import ChatSpec, NewParticipant, close_chat, create_chat
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.proxy.renewal import reopen_chat
from tests.browser.conftest import MODULE_LOOP, LiveServer, shoot

pytestmark = [pytest.mark.browser, MODULE_LOOP]


async def new_chat(
    server: LiveServer, first: str, second: str, reference: str, *, hours: int | None = None
) -> ChatView:
    spec = ChatSpec(
        [NewParticipant(first, "Rider"), NewParticipant(second, "Driver")],
        reference=reference,
        expires_at=utcnow() + timedelta(hours=hours) if hours else None,
        intro=False,
    )
    rt = server.runtime

    async def create() -> ChatView:
        async with rt.db.transaction() as session:
            return await create_chat(session, spec, templates=rt.templates, actor="tests")

    return await server.run(create())


async def close(server: LiveServer, view: ChatView) -> None:
    rt = server.runtime

    async def work() -> None:
        async with rt.db.transaction() as session:
            chat = (await get_chat(session, view.chat.public_id)).chat
            await close_chat(
                session, chat, reason="api", actor="tests", goodbye=False, templates=rt.templates
            )

    await server.run(work())


async def test_j_and_k_move_through_the_list_and_enter_opens(
    page: Page, module_server: LiveServer
) -> None:
    for n in range(3):
        await new_chat(module_server, f"+4477009004{n}1", f"+4477009004{n}2", f"kb-list-{n}")
    await page.goto("/chats")
    await expect(page.locator("#live-status")).to_have_text("Live")
    rows = page.locator('[data-live-list="chats"] .inbox-row')
    chosen = page.locator(".inbox-row.is-key-focus")
    await page.keyboard.press("j")
    await expect(chosen).to_have_count(1)
    first_id = await rows.nth(0).get_attribute("data-item-id")
    await expect(chosen).to_have_attribute("data-item-id", first_id or "")
    await page.keyboard.press("j")
    second_id = await rows.nth(1).get_attribute("data-item-id")
    await expect(chosen).to_have_attribute("data-item-id", second_id or "")
    await expect(rows.nth(1).locator(".inbox-link")).to_be_focused()
    await page.keyboard.press("k")
    await expect(chosen).to_have_attribute("data-item-id", first_id or "")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(f"/chats/{first_id}$"))


async def test_keys_never_fire_while_typing(page: Page, module_server: LiveServer) -> None:
    await new_chat(module_server, "+447700900451", "+447700900452", "kb-typing")
    await page.goto("/chats")
    await page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search chats")
    await expect(search).to_be_focused()
    await page.keyboard.type("jk?g n")
    await expect(search).to_have_value("jk?g n")
    await expect(page.locator(".inbox-row.is-key-focus")).to_have_count(0)
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page).to_have_url(re.compile(r"/chats$"))


async def test_question_mark_lists_every_shortcut_and_escape_closes(
    page: Page, screenshots: Path
) -> None:
    await page.goto("/numbers")
    await page.keyboard.press("?")
    overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(overlay).to_be_visible()
    table = overlay.get_by_role("table")
    for does in ("Next chat in the list", "Write a reply", "Close this chat…", "Go to Numbers"):
        await expect(table.get_by_role("row", name=re.compile(re.escape(does)))).to_have_count(1)
    await expect(table).to_contain_text("Take or assign this chat")
    await expect(table).to_contain_text("Command palette")
    # Focus stays in the dialog: Tab from its last control comes back to its first.
    close_button = overlay.get_by_role("button", name="Close")
    await expect(close_button).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(close_button).to_be_focused()
    await shoot(page, screenshots, "shortcuts-overlay")
    await page.keyboard.press("Escape")
    await expect(overlay).to_be_hidden()
    await page.keyboard.press("g")
    await page.keyboard.press("u")
    await expect(page).to_have_url(re.compile(r"/unrouted$"))


async def test_the_palette_jumps_to_a_chat_by_its_reference(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    view = await new_chat(module_server, "+447700900461", "+447700900462", "booking-palette-77")
    await page.goto("/numbers")
    await page.keyboard.press("Control+k")
    palette = page.get_by_role("dialog", name="Command palette")
    box = palette.get_by_role("combobox")
    await expect(box).to_be_focused()
    options = palette.get_by_role("option")
    await expect(options.filter(has_text="Go to Chats")).to_have_count(1)
    await box.fill("palette-77")
    match = options.filter(has_text="booking-palette-77")
    await expect(match).to_have_count(1)
    await expect(match).to_have_attribute("aria-selected", "true")
    active = await box.get_attribute("aria-activedescendant")
    assert active == await match.get_attribute("id")
    await shoot(page, screenshots, "command-palette")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(f"/chats/{view.chat.public_id}$"))
    # Commands too, with the arrows: "new" lists New chat; Enter goes there.
    await expect(page.locator("#live-status")).to_have_text("Live")  # its scripts run
    await page.keyboard.press("Meta+k")
    await expect(palette).to_be_visible()
    await box.fill("new chat")
    await expect(options).to_have_count(1)
    await page.keyboard.press("ArrowDown")  # wraps round to the same, only option
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/chats/new$"))


async def test_the_chat_page_keys(page: Page, module_server: LiveServer) -> None:
    view = await new_chat(module_server, "+447700900471", "+447700900472", "kb-page")
    await page.goto(f"/chats/{view.chat.public_id}")
    await page.keyboard.press("r")
    await expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    await page.keyboard.press("Escape")
    await page.locator("h1").click()
    await page.keyboard.press("c")
    panel = page.locator("#chat-actions .popover-panel")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_label("Send each participant the goodbye SMS")).to_be_focused()
    # No assignment button on this page: `a` does nothing, and says nothing.
    await page.locator("h1").click()
    await page.keyboard.press("a")
    await expect(page).to_have_url(re.compile(f"/chats/{view.chat.public_id}$"))
    # A page that offers one (as assignment will): `a` presses it.
    await page.evaluate(
        """() => {
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.shortcut = "assign";
          button.textContent = "Take";
          button.addEventListener("click", () => (window.__taken = true));
          document.querySelector(".chat-heading").append(button);
        }"""
    )
    await page.keyboard.press("a")
    assert await page.evaluate("window.__taken === true")


async def test_reopen_a_closed_chat_from_its_page_and_the_list_follows(
    page: Page, admin_context: BrowserContext, module_server: LiveServer
) -> None:
    view = await new_chat(module_server, "+447700900481", "+447700900482", "kb-reopen")
    await close(module_server, view)
    await page.goto(f"/chats/{view.chat.public_id}")
    await expect(page.locator("#chat-status")).to_have_text("Closed")
    listing = await admin_context.new_page()
    try:
        await listing.goto("/chats?status=all")
        row = listing.locator(f"#chat-{view.chat.public_id}")
        await expect(row.locator(".badge-closed")).to_be_visible()
        await page.get_by_role("button", name="Reopen chat").click()
        await expect(page.locator("#chat-status")).to_have_text("Active")
        await expect(page.get_by_role("status").filter(has_text="Chat reopened")).to_be_visible()
        await expect(page.get_by_role("textbox", name="Message")).to_be_visible()
        await expect(row.locator(".badge-closed")).to_have_count(0)  # live, no reload
        # Closed and reopened elsewhere: this page follows both.
        await close(module_server, view)
        await expect(page.locator("#chat-status")).to_have_text("Closed")
        await expect(page.get_by_role("button", name="Reopen chat")).to_be_visible()
        rt = module_server.runtime

        async def reopen() -> None:
            async with rt.db.transaction() as session:
                await reopen_chat(session, view.chat.public_id, actor="tests")

        await module_server.run(reopen())
        await expect(page.locator("#chat-status")).to_have_text("Active")
    finally:
        await listing.close()


async def test_extend_a_chat_by_a_day(page: Page, module_server: LiveServer) -> None:
    view = await new_chat(module_server, "+447700900491", "+447700900492", "kb-extend", hours=2)
    assert view.chat.expires_at is not None
    await page.goto(f"/chats/{view.chat.public_id}")
    expires = page.locator('#chat-terms [data-role="expires"] time')
    before = await expires.get_attribute("datetime")
    await page.get_by_text("Extend…").click()
    await page.get_by_role("button", name="+24 hours").click()
    await expect(page.get_by_role("status").filter(has_text="Chat extended")).to_be_visible()
    after = await expires.get_attribute("datetime")
    assert before and after
    from datetime import datetime

    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) == timedelta(days=1)

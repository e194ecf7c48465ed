"""A working day in the dashboard, as staff see it in Chromium: the page says when it is
not live, the navigation counts unrouted SMS as they come and go, a chat read in one tab
is read in the others, the chat page uses the window's height, tables fit a phone,
secrets copy with one click. One server and one logged-in browser for the module."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, ViewportSize, expect
from sqlmodel import select

from smsproxy.carrier.gsm7 import segments
from smsproxy.db import utcnow
from smsproxy.models import ApiKey, AuthorKind, Message, UnroutedState
from smsproxy.proxy import unrouted_inbox
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import (
    MODULE_LOOP,
    PROXY_UK,
    LiveServer,
    assert_fits_width,
    shoot,
)
from tests.helpers import add_numbers, create_api_key, start_chat

pytestmark = [pytest.mark.browser, MODULE_LOOP]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


async def chat_of(server: LiveServer, *people: tuple[str, str]) -> ChatView:
    return await server.run(start_chat(server.runtime, *people, intro=True))


async def text_in(server: LiveServer, sender: str, proxy: str, body: str) -> None:
    rt = server.runtime
    await server.run(text_from_handset(rt.db, rt.routing, sender, proxy, body))


async def test_every_page_is_live_and_says_when_it_is_not(
    page: Page, admin_context: BrowserContext, screenshots: Path
) -> None:
    for path in ("/numbers", "/staff", "/api-keys", "/chats/new", "/account/password"):
        await page.goto(path)
        await expect(page.locator("#live-status")).to_have_text("Live")
    banner = page.locator("#live-banner")
    await expect(banner).to_be_hidden()
    await admin_context.set_offline(True)
    try:
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Not live: this page cannot reach the server")
        await expect(page.locator("#live-status")).to_have_text("Offline")
        await expect(banner.get_by_role("button", name="Reload the page")).to_be_visible()
        await shoot(page, screenshots, "not-live-banner")
    finally:
        await admin_context.set_offline(False)
    await expect(page.locator("#live-status")).to_have_text("Live")
    await expect(banner).to_be_hidden()


async def test_the_navigation_counts_waiting_unrouted_sms_live(
    page: Page, module_server: LiveServer
) -> None:
    rt = module_server.runtime
    view = await chat_of(module_server, ("+447700900301", "Ann"), ("+447700900302", "Ben"))
    await page.goto(f"/chats/{view.chat.public_id}")  # a page whose own topic is one chat
    await expect(page.locator("#live-status")).to_have_text("Live")
    unrouted_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Unrouted")
    count = unrouted_link.locator("[data-nav-count]")
    before = await module_server.run(_waiting(module_server))

    await text_in(module_server, "+447700900399", PROXY_UK, "Anyone there?")
    await expect(count).to_be_visible()
    await expect(count).to_have_text(f"{before + 1} waiting")
    await expect(unrouted_link).to_have_accessible_name(f"Unrouted {before + 1} waiting")

    async def dismiss_it() -> None:
        async with rt.db.transaction() as session:
            waiting, _ = await unrouted_inbox.list_unrouted(session)
            for message in waiting:
                dismissed = UnroutedState.dismissed
                await unrouted_inbox.set_state(session, message.public_id, dismissed, by="x")

    await module_server.run(dismiss_it())
    await expect(count).to_be_hidden()


async def _waiting(server: LiveServer) -> int:
    async with server.runtime.db.read() as session:
        return await unrouted_inbox.count_waiting(session)


async def test_a_chat_read_in_one_tab_is_read_in_the_others(
    page: Page, admin_context: BrowserContext, module_server: LiveServer
) -> None:
    view = await chat_of(module_server, ("+447700900311", "Cleo"), ("+447700900312", "Dan"))
    cleo = view.participants[0]
    await page.goto("/chats")
    row = page.locator(f"#chat-{view.chat.public_id}")
    await text_in(module_server, cleo.real_number, cleo.proxy_number, "Are you close?")
    unread = row.locator('[data-role="unread"]')
    await expect(unread).to_be_visible()
    await expect(unread).to_contain_text("1")

    other_tab = await admin_context.new_page()
    try:
        await other_tab.goto(f"/chats/{view.chat.public_id}")
        seen = other_tab.locator("#thread .bubble", has_text="Are you close?")
        await expect(seen).to_be_visible()
        await expect(unread).to_be_hidden()
        # And a message read as it arrives, in the open chat, clears it here too.
        await text_in(module_server, cleo.real_number, cleo.proxy_number, "I see you")
        await expect(other_tab.locator("#thread .bubble", has_text="I see you")).to_be_visible()
        await expect(row).to_contain_text("I see you")
        await expect(unread).to_be_hidden()
    finally:
        await other_tab.close()


async def test_the_chat_page_uses_the_height_and_marks_the_days(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    view = await chat_of(module_server, ("+447700900321", "Eve"), ("+447700900322", "Finn"))
    eve = view.participants[0]

    async def said_yesterday() -> None:
        async with module_server.runtime.db.transaction() as session:
            session.add(
                Message(
                    chat_id=view.chat.id,
                    author_kind=AuthorKind.participant,
                    participant_id=eve.id,
                    body="Booked for tomorrow",
                    created_at=utcnow() - timedelta(days=1, minutes=5),
                )
            )

    await module_server.run(said_yesterday())
    await page.goto(f"/chats/{view.chat.public_id}")
    days = page.locator("#thread .day-separator")
    await expect(days).to_have_text(["Yesterday", "Today"])
    first = page.locator("#thread > *").first
    await expect(first).to_have_text("Yesterday")  # before the oldest message
    times = page.locator("#thread .bubble time")
    await expect(times.first).to_have_text(re.compile(r"^\d{1,2}:\d{2}$"))
    assert "2" in (await times.first.get_attribute("title") or "")  # the full date on hover

    thread = await page.locator("#thread-scroll").bounding_box()
    assert thread is not None and thread["height"] >= 0.55 * DESKTOP["height"], thread
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height <= DESKTOP["height"], "the chat page scrolls: its composer is off screen"
    await expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    await shoot(page, screenshots, "chat-days")


async def test_the_counter_says_what_a_text_costs_as_the_carrier_counts(
    page: Page, module_server: LiveServer
) -> None:
    texts = [
        "",
        "Hello",
        "x" * 160,
        "x" * 161,
        "é" * 160,  # in the GSM alphabet
        "[" * 80,  # two septets each
        "[" * 81,
        "ç" * 70,  # not in it: unicode
        "ç" * 71,
        "😀" * 35,  # two UCS-2 units each
        "😀" * 36,
        "a" * 152 + "€" + "b" * 10,  # an escape pair is never split
        "x" * 306,  # two parts of 153 exactly
        "x" * 307,
        "ç" * 134,  # two parts of 67 exactly
        "ç" * 135,
        "a" * 66 + "😀" + "a" * 10,  # a surrogate pair is never split
    ]
    view = await chat_of(module_server, ("+447700900331", "Gus"), ("+447700900332", "Hal"))
    await page.goto(f"/chats/{view.chat.public_id}")
    counted = await page.evaluate(
        "async (texts) => { const { smsParts } = await import('/static/js/sms.js');"
        " return texts.map((text) => smsParts(text).parts); }",
        texts,
    )
    assert counted == [segments(text) for text in texts]

    body = page.get_by_role("textbox", name="Message")
    count = page.locator("#composer-count")
    await body.fill("On my way")
    await expect(count).to_have_text("9 characters · 1 SMS each")
    await body.fill("On my way 🚕" + " and more" * 8)
    await expect(count).to_have_text(
        "83 characters · 2 SMS parts each, sent as Unicode because of “🚕” "
        "(70 characters per SMS, not 160)"
    )


async def test_a_message_to_one_person_leaves_the_next_for_everyone(
    page: Page, module_server: LiveServer
) -> None:
    view = await chat_of(module_server, ("+447700900341", "Ida"), ("+447700900342", "Jon"))
    await page.goto(f"/chats/{view.chat.public_id}")
    to = page.get_by_role("combobox", name="To", exact=True)
    await to.select_option(label="Ida (+44770•••••41)")
    await page.get_by_role("textbox", name="Message").fill("Only for Ida")
    await page.get_by_role("button", name="Send").click()
    sent = page.locator("#thread .bubble", has_text="Only for Ida")
    await expect(sent.locator(".delivery")).to_have_count(1)
    await expect(sent.locator(".recipient")).to_have_text(["Ida"])
    await expect(to).to_have_value("all")

    await page.get_by_role("textbox", name="Message").fill("For both of you")
    await page.get_by_role("button", name="Send").click()
    both = page.locator("#thread .bubble", has_text="For both of you")
    # Once both are delivered, one row says so for both; the comma is the style's, read
    # by screen readers as people see it.
    await expect(both.locator(".deliveries")).to_match_aria_snapshot(
        "- list:\n  - listitem: to Ida, Jon Delivered"
    )
    await expect(both.locator(".delivery")).to_have_count(1)
    await expect(both.locator(".recipient")).to_have_text(["Ida", "Jon"])


async def test_closing_asks_once_and_escape_closes_the_question(
    page: Page, module_server: LiveServer
) -> None:
    view = await chat_of(module_server, ("+447700900351", "Kai"), ("+447700900352", "Lea"))
    await page.goto(f"/chats/{view.chat.public_id}")
    opener = page.locator("#chat-actions summary")
    panel = page.locator("#chat-actions .popover-panel")
    await opener.click()
    await expect(panel).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(opener).to_be_focused()

    await opener.click()
    await panel.get_by_role("button", name="Close chat").click()
    await expect(page.locator("#closed-note")).to_be_visible()
    await expect(page.get_by_role("dialog")).to_have_count(0)  # no second question


async def test_a_new_key_copies_in_one_click_and_a_reload_makes_no_second(
    page: Page, admin_context: BrowserContext, module_server: LiveServer, screenshots: Path
) -> None:
    await admin_context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.goto("/api-keys")
    await page.get_by_label("Name").fill("Copy test")
    await page.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("The new API key")
    key = await shown.input_value()
    assert key.startswith("spx_")
    await expect(page.get_by_role("button", name="Copy key")).to_be_visible()
    copy = page.locator('button[data-copy="new-key"]')
    await copy.click()
    await expect(copy).to_have_text("Copied ✓")
    assert await page.evaluate("navigator.clipboard.readText()") == key
    await shoot(page, screenshots, "api-key-created")
    await page.set_viewport_size(PHONE)
    await shoot(page, screenshots, "api-key-created-phone")
    await page.set_viewport_size(DESKTOP)

    await page.reload()
    await expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    await expect(page.get_by_label("The new API key")).to_have_count(0)

    async def named_alike() -> int:
        async with module_server.runtime.db.read() as session:
            found = await session.exec(select(ApiKey).where(ApiKey.name == "Copy test"))
            return len(found.all())

    assert await module_server.run(named_alike()) == 1


@pytest.mark.parametrize("path", ["/numbers", "/staff", "/api-keys"])
async def test_tables_are_cards_on_a_phone(
    page: Page, module_server: LiveServer, screenshots: Path, path: str
) -> None:
    rt = module_server.runtime
    if path == "/numbers":
        await module_server.run(add_numbers(rt, "+447700900188"))
    if path == "/api-keys":
        await module_server.run(create_api_key(rt, "Cards"))
    await page.set_viewport_size(PHONE)
    await page.goto(path)
    table = page.locator("table.table-cards")
    await expect(table).to_be_visible()
    await assert_fits_width(page)
    wrap = await table.evaluate("t => t.parentElement.scrollWidth - t.parentElement.clientWidth")
    assert wrap <= 0, "the table scrolls sideways"
    # Every row's actions are on screen, not past its right edge.
    for button in await table.locator("tbody .row-actions .btn").all():
        box = await button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    await shoot(page, screenshots, f"{path.strip('/')}-phone")


async def test_numbers_offer_remove_only_where_it_works(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    await page.goto("/numbers")
    busy = page.locator(f"#number-{PROXY_UK[1:]}")
    remove = busy.get_by_role("button", name=f"Remove {PROXY_UK}")
    await expect(remove).to_be_disabled()
    await expect(remove).to_have_accessible_description(
        re.compile(r"^Carries \d+ active chats?: disable it and remove it once")
    )
    await shoot(page, screenshots, "numbers")


async def visible_rows(page: Page) -> int:
    return int(
        await page.evaluate(
            """() => [...document.querySelectorAll(".inbox > li")].filter((row) => {
                const box = row.getBoundingClientRect();
                return box.top >= 0 && box.bottom <= innerHeight;
            }).length"""
        )
    )


async def test_compact_rows_show_twice_as_many_chats(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    for n in range(24):
        await chat_of(
            module_server,
            (f"+4477009004{n:02d}", f"Rider {n}"),
            (f"+4477009005{n:02d}", f"Driver {n}"),
        )
    await page.goto("/chats?density=comfortable")
    comfortable = await visible_rows(page)
    await shoot(page, screenshots, "chats")
    await page.get_by_role("link", name="Compact").click()
    await expect(page.locator(".inbox")).to_have_class(re.compile("is-compact"))
    compact = await visible_rows(page)
    assert compact >= 2 * comfortable, (comfortable, compact)
    await shoot(page, screenshots, "chats-compact")
    await page.reload()  # remembered
    await expect(page.locator(".inbox")).to_have_class(re.compile("is-compact"))
    await page.get_by_role("link", name="Comfortable").click()
    await expect(page.locator(".inbox")).not_to_have_class(re.compile("is-compact"))


async def test_the_sandbox_finds_a_phone_among_many_by_name(
    page: Page, module_server: LiveServer, screenshots: Path
) -> None:
    view = await chat_of(
        module_server, ("+447700900371", "Rider (airport)"), ("+447700900372", "Driver Olu")
    )
    for n in range(8):
        await chat_of(
            module_server, (f"+4477009006{n:02d}", f"Guest {n}"), (f"+4477009007{n:02d}", "Host")
        )
    await page.goto("/sandbox")
    await expect(page.locator(".phone")).to_have_count(12)  # a page, not every phone
    await page.get_by_label("Find a phone").fill("airport")
    await page.get_by_role("button", name="Find").click()
    phone = page.locator('[data-phone="+447700900371"]')
    await expect(page.locator(".phone")).to_have_count(1)
    await expect(phone.get_by_role("heading")).to_have_text("Rider (airport) +447700900371")
    await phone.get_by_role("textbox", name="Message").fill("Which terminal?")
    await phone.get_by_role("button", name="Send from this phone").click()
    await expect(phone.locator(".sms-out", has_text="Which terminal?")).to_be_visible()
    await expect(page.locator(".phone")).to_have_count(1)  # still the search's phones only
    await shoot(page, screenshots, "sandbox-search")
    await page.set_viewport_size(PHONE)
    await assert_fits_width(page)
    await shoot(page, screenshots, "sandbox-search-phone")
    await page.set_viewport_size(DESKTOP)
    assert view.participants[0].real_number == "+447700900371"


SHOWN = [
    ("chats", "/chats?density=comfortable", "Chats"),
    ("unrouted", "/unrouted", "Unrouted"),
    ("new-chat", "/chats/new", "New chat"),
    ("sandbox", "/sandbox", "Sandbox"),
    ("staff", "/staff", "Staff"),
    ("account", "/account/password", "Change your password"),
]


@pytest.mark.parametrize(("name", "path", "heading"), SHOWN, ids=[s[0] for s in SHOWN])
async def test_changed_pages_fit_a_phone_and_are_pictured(
    page: Page, module_server: LiveServer, screenshots: Path, name: str, path: str, heading: str
) -> None:
    await text_in(module_server, "+447700900398", PROXY_UK, "Wrong number, sorry")
    for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        await page.set_viewport_size(size)
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        await expect(page.locator("#live-status")).to_have_text("Live")
        await assert_fits_width(page)
        await shoot(page, screenshots, f"{name}{suffix}")

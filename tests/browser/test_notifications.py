"""Notifications in Chromium: the unread count in the tab title and beside "Chats" as
handsets text, on any page; and the beep and browser notification for chats assigned
to the signed-in person, set from the Settings dialog, with numbers masked."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, WebSocketRoute, expect

from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import MODULE_LOOP, LiveServer
from tests.helpers import start_chat

pytestmark = [pytest.mark.browser, MODULE_LOOP]

# Records what the page asks of the browser (the real Notification and AudioContext
# still run): what a person would see and hear.
SPIES = """
window.__notes = [];
window.__beeps = 0;
const RealNotification = window.Notification;
class SpiedNotification extends RealNotification {
  constructor(title, options) {
    window.__notes.push({ title, body: options?.body ?? "" });
    super(title, options);
  }
}
Object.defineProperty(SpiedNotification, "permission", { get: () => RealNotification.permission });
SpiedNotification.requestPermission = (...args) => RealNotification.requestPermission(...args);
window.Notification = SpiedNotification;
const oscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__beeps += 1;
  return oscillator.call(this);
};
"""


async def chat_of(server: LiveServer, *people: tuple[str, str]) -> ChatView:
    return await server.run(start_chat(server.runtime, *people))


async def text_in(server: LiveServer, sender: str, proxy: str, body: str) -> None:
    rt = server.runtime
    await server.run(text_from_handset(rt.db, rt.routing, sender, proxy, body))


async def test_the_title_and_navigation_count_unread_texts_live(
    page: Page, module_server: LiveServer
) -> None:
    first = await chat_of(module_server, ("+447700900501", "Ann"), ("+447700900502", "Ben"))
    other = await chat_of(module_server, ("+447700900503", "Cas"), ("+447700900504", "Dee"))
    ann = first.participants[0]
    await page.goto("/numbers")
    await expect(page.locator("#live-status")).to_have_text("Live")
    assert not (await page.title()).startswith("(")
    badge = page.get_by_role("navigation", name="Main").locator('[data-nav-count="unread"]')
    await expect(badge).to_be_hidden()

    await text_in(module_server, ann.real_number, ann.proxy_number, "Where are you?")
    await expect(page).to_have_title(re.compile(r"^\(1\) Numbers · smsproxy$"))
    await expect(badge).to_have_text("1 unread")

    # A chat's page counts the others' texts too, and reading a chat clears its own.
    await page.goto(f"/chats/{other.chat.public_id}")
    await expect(page).to_have_title(re.compile(r"^\(1\) "))
    await text_in(module_server, ann.real_number, ann.proxy_number, "Hello?")
    await expect(page).to_have_title(re.compile(r"^\(2\) "))
    await page.goto(f"/chats/{first.chat.public_id}")
    await expect(page.locator("#live-status")).to_have_text("Live")
    await expect(page).not_to_have_title(re.compile(r"^\("))
    await expect(badge).to_be_hidden()


def frame(event_id: int, chat_id: str, data: dict[str, Any]) -> str:
    event = {"id": event_id, "name": "message.created", "chat_id": chat_id, "data": data}
    return json.dumps({"type": "event", "event": event})


async def test_assigned_chats_beep_and_notify_with_numbers_masked(
    admin_context: BrowserContext, module_server: LiveServer
) -> None:
    view = await chat_of(module_server, ("+447700900511", "Eve"), ("+447700900512", "Fay"))
    await admin_context.grant_permissions(["notifications"])
    page = await admin_context.new_page()
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        # The real server's socket, with a way for this test to put a frame in it.
        ws.connect_to_server()
        sockets.append(ws)

    try:
        await page.add_init_script(SPIES)
        await page.route_web_socket(re.compile(r"/live$"), through)
        await page.goto("/opt-outs")
        await expect(page.locator("#live-status")).to_have_text("Live")
        staff_id = await page.evaluate("document.body.dataset.staffId")

        await page.get_by_role("button", name="Settings").click()
        settings = page.get_by_role("dialog", name="Settings for this browser")
        await settings.get_by_label("Play a sound").check()
        await settings.get_by_label("Show a browser notification").check()
        await expect(settings.get_by_label("Show a browser notification")).to_be_checked()
        await settings.get_by_role("button", name="Done").click()
        await expect(settings).to_be_hidden()
        stored = await page.evaluate("localStorage.getItem('smsproxy.prefs')")
        assert json.loads(stored) == {"sound": True, "notifications": True}
        beeps = await page.evaluate("window.__beeps")  # the sample the checkbox played

        said = {"author_kind": "participant", "author": "Eve", "body": "Call me on +447700900511"}
        chat_id = view.chat.public_id
        # Not assigned, or assigned to someone else: no sound, no notification.
        sockets[-1].send(frame(10_001, chat_id, {**said, "assignee_id": None}))
        sockets[-1].send(frame(10_002, chat_id, {**said, "assignee_id": int(staff_id) + 1}))
        sockets[-1].send(frame(10_003, chat_id, {**said, "assignee_id": int(staff_id)}))
        await page.wait_for_function("window.__notes.length > 0")
        notes = await page.evaluate("window.__notes")
        assert len(notes) == 1, notes  # the frames arrive in order: the third one only
        assert notes[0]["title"] == "New text from Eve"
        assert "+447700900511" not in json.dumps(notes) and "•••••" in notes[0]["body"]
        assert await page.evaluate("window.__beeps") == beeps + 1
    finally:
        await page.close()
        await admin_context.clear_permissions()


async def test_the_palette_turns_notifications_off(page: Page) -> None:
    await page.goto("/chats")
    await expect(page.locator("#live-status")).to_have_text("Live")
    await page.evaluate(
        "localStorage.setItem('smsproxy.prefs', JSON.stringify({sound: true, notifications: true}))"
    )
    await page.keyboard.press("Control+k")
    box = page.get_by_role("dialog", name="Command palette").get_by_role("combobox")
    await expect(box).to_be_focused()
    await box.fill("notifications")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").filter(has_text="notifications off")).to_be_attached()
    stored = await page.evaluate("JSON.parse(localStorage.getItem('smsproxy.prefs'))")
    assert stored == {"sound": True, "notifications": False}

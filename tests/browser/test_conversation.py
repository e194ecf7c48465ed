"""A whole conversation as staff see it: log in, create a chat from the form, watch two
simulated phones text each other through it, live, in three tabs, then close it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import (
    ALICE,
    BOB,
    PROXY_UK,
    PROXY_US,
    assert_not_reloaded,
    log_in,
    mark_page,
    shoot,
)

FROM_ALICE = "Hi Bob, I'm outside the station, blue car"
FROM_BOB = "On my way, two minutes"
DELIVERY_ORDER = ["queued", "sending", "sent", "delivered"]

# Records, in the page, every state each delivery badge of the transcript shows, so the
# test can check the states only ever moved forward.
RECORD_DELIVERY_STATES = """
() => {
  window.__deliveryStates = {};
  const record = () => {
    for (const item of document.querySelectorAll("#thread [data-delivery-id]")) {
      const badge = item.closest(".delivery")?.querySelector('[data-role="status"]');
      const seen = (window.__deliveryStates[item.dataset.deliveryId] ??= []);
      if (badge && seen.at(-1) !== badge.dataset.status) seen.push(badge.dataset.status);
    }
  };
  record();
  new MutationObserver(record).observe(document.getElementById("thread"), {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
}
"""


def bubble(page: Page, text: str) -> Locator:
    return page.locator("#thread .bubble", has_text=text)


def phone(page: Page, number: str) -> Locator:
    return page.locator(f'[data-phone="{number}"]')


async def text_from_phone(sandbox: Page, number: str, proxy: str, text: str) -> None:
    """Type an SMS on a simulated phone and send it to `proxy`."""
    handset = phone(sandbox, number)
    await handset.get_by_label("Text to").select_option(proxy)
    await handset.get_by_label("Message").fill(text)
    await handset.get_by_role("button", name="Send from this phone").click()
    await expect(handset.locator('[data-role="note"]')).to_have_text(
        "Delivered into its chat: the other participants get it."
    )


async def delivery_states(page: Page, item: Locator) -> list[str]:
    delivery_id = await item.locator(".recipient").get_attribute("data-delivery-id")
    states: list[str] = await page.evaluate(
        "(id) => window.__deliveryStates[id] ?? []", delivery_id
    )
    return states


async def create_chat_from_form(page: Page, screenshots: Path) -> str:
    """The New chat form: a mistake first (shown next to its field), then the chat.
    Returns the new chat's id."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="New chat").click()
    await expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    await page.get_by_label("Participant 1 phone number").fill("+44 7700 900001")
    await page.locator("#participants-0-name").fill("Alice")
    await page.get_by_label("Participant 2 phone number").fill("call me")
    await page.locator("#participants-1-name").fill("Bob")
    await page.get_by_label("Reference").fill("BK-1042")
    await page.get_by_role("button", name="Create chat", exact=True).last.click()

    error = page.locator("#participants-1-number-error")
    await expect(error).to_have_text(
        "Participant 2's number 'call me' has characters that are not part of a phone number"
    )
    number_field = page.get_by_label("Participant 2 phone number")
    await expect(number_field).to_have_attribute("aria-invalid", "true")
    await expect(number_field).to_have_value("call me")
    await expect(page.locator("#participants-0-name")).to_have_value("Alice")
    await shoot(page, screenshots, "new-chat-error")

    await number_field.fill("+1 202-555-0111")
    await page.get_by_role("button", name="Create chat", exact=True).last.click()
    await expect(page).to_have_url(re.compile(r"/chats/[A-Za-z0-9_-]+$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Alice, Bob")
    chat_id = await page.locator("#chat-page").get_attribute("data-chat-id")
    assert chat_id
    return chat_id


async def test_conversation_through_the_dashboard(
    context: BrowserContext, screenshots: Path
) -> None:
    chat_page = await context.new_page()
    await log_in(chat_page, screenshots)

    chat_id = await create_chat_from_form(chat_page, screenshots)
    live = chat_page.locator("#live-status")
    await expect(live).to_have_text("Live")
    # Each participant texts the number of their own country (DESIGN.md rule 2).
    people = chat_page.locator(".chat-aside .person")
    await expect(people.filter(has_text="Alice").locator("dd").nth(1)).to_have_text(PROXY_UK)
    await expect(people.filter(has_text="Bob").locator("dd").nth(1)).to_have_text(PROXY_US)
    await chat_page.evaluate(RECORD_DELIVERY_STATES)
    await mark_page(chat_page)

    list_page = await context.new_page()
    await list_page.goto("/chats?status=all")
    row = list_page.locator(f"#chat-{chat_id}")
    await expect(row).to_contain_text("Alice, Bob")
    await expect(list_page.locator("#live-status")).to_have_text("Live")
    await mark_page(list_page)

    sandbox = await context.new_page()
    await sandbox.goto("/sandbox")
    await expect(sandbox.locator("#live-status")).to_have_text("Live")

    # Alice texts her proxy number; the chat page and the list show it without a reload,
    # and Bob's phone gets it from Bob's own proxy number.
    await text_from_phone(sandbox, ALICE, PROXY_UK, FROM_ALICE)
    said = bubble(chat_page, FROM_ALICE)
    await expect(said).to_be_visible()
    await expect(said.locator(".who")).to_have_text("Alice")
    await expect(row.locator(".inbox-preview")).to_have_text(f"Alice: {FROM_ALICE}")
    received = phone(sandbox, BOB).locator(".sms-in", has_text=FROM_ALICE)
    await expect(received.locator(".sms-meta")).to_contain_text(f"From {PROXY_US}")

    # Bob replies from his phone; Alice gets it from her proxy number.
    await text_from_phone(sandbox, BOB, PROXY_US, FROM_BOB)
    reply = bubble(chat_page, FROM_BOB)
    await expect(reply).to_be_visible()
    await expect(reply.locator(".who")).to_have_text("Bob")
    await expect(row.locator(".inbox-preview")).to_have_text(f"Bob: {FROM_BOB}")
    answered = phone(sandbox, ALICE).locator(".sms-in", has_text=FROM_BOB)
    await expect(answered.locator(".sms-meta")).to_contain_text(f"From {PROXY_UK}")

    # The forwarded SMS are reported delivered, in place, and never step back.
    for said_bubble, recipient in ((said, "Bob"), (reply, "Alice")):
        item = said_bubble.locator(".delivery")
        await expect(item).to_have_count(1)
        await expect(item.locator(".delivery-to")).to_have_text(f"to {recipient}")
        await expect(item.locator('[data-role="status"]')).to_have_attribute(
            "data-status", "delivered"
        )
        await expect(item.locator('[data-role="status"]')).to_have_text("Delivered")
        states = await delivery_states(chat_page, item)
        assert states and states[-1] == "delivered", states
        positions = [DELIVERY_ORDER.index(state) for state in states]
        assert positions == sorted(positions), f"delivery states went backwards: {states}"
    await assert_not_reloaded(chat_page)
    await assert_not_reloaded(list_page)
    await expect(chat_page.locator("#thread .bubble", has_text=FROM_ALICE)).to_have_count(1)

    await chat_page.bring_to_front()
    await shoot(chat_page, screenshots, "chat")
    await list_page.bring_to_front()
    await shoot(list_page, screenshots, "chats-list")
    await sandbox.bring_to_front()
    await shoot(sandbox, screenshots, "sandbox")

    # Close the chat from its panel (the panel is the one question); the list shows it
    # closed, live.
    await chat_page.bring_to_front()
    await chat_page.get_by_text("Close chat…").click()
    await chat_page.locator("#chat-actions").get_by_role("button", name="Close chat").click()
    await expect(chat_page.locator("#chat-status")).to_have_text("Closed")
    await expect(chat_page.locator("#closed-note")).to_contain_text("This chat was closed by staff")
    await expect(chat_page.locator("#composer")).to_have_count(0)
    await expect(row.locator(".badge-closed")).to_have_text("Closed")
    await assert_not_reloaded(list_page)
    await expect(phone(sandbox, ALICE).locator('[data-role="routes"]')).to_have_text(
        "No active chat"
    )

"""Every page under the strict Content-Security-Policy, in Chromium: no page, and none
of what their scripts do (live updates, dialogs, the sandbox's phones, revealing a
number), trips it. A listener records every `securitypolicyviolation` event and every
console report of one."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect

from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import ALICE, BOB, PROXY_UK, PROXY_US, LiveServer, log_in
from tests.helpers import create_api_key, start_chat

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber}`);
});
"""
# Pages with no path parameter that this test need not open, and why.
NOT_PAGES = {
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/audit.csv",
    "/chats/export.csv",
    "/live",
    "/logout",
}


class Watch:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    async def violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__cspViolations || []")
        return found + self.console

    async def visit(self, path: str) -> list[str]:
        response = await self.page.goto(path)
        assert response is not None and response.ok, path
        policy = await response.header_value("content-security-policy")
        assert policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        await self.page.wait_for_load_state("networkidle")
        return [f"{path}: {v}" for v in await self.violations()]


def page_paths(server: LiveServer) -> set[str]:
    """The dashboard's pages without path parameters, from the URL map."""
    found = set()
    for rule in server.app.url_map.iter_rules():
        if rule.arguments or "GET" not in (rule.methods or set()):
            continue
        if rule.rule.startswith(("/api/v1", "/webhooks", "/static")) or rule.rule in NOT_PAGES:
            continue
        found.add(rule.rule)
    return found


async def test_no_page_trips_the_content_security_policy(
    context: BrowserContext, server: LiveServer
) -> None:
    rt = server.runtime
    view = await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"), intro=True))
    await server.run(text_from_handset(rt.db, rt.routing, ALICE, PROXY_UK, "On my way"))
    await server.run(text_from_handset(rt.db, rt.routing, "+447700900999", PROXY_UK, "Hi?"))
    await server.run(create_api_key(rt, "Booking system"))
    chat_path = f"/chats/{view.chat.public_id}"

    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    watch = Watch(page)
    problems = await watch.visit("/login")
    await log_in(page)

    paths = page_paths(server)
    assert {"/chats", "/numbers", "/audit", "/staff", "/api/docs", "/sandbox", "/reports"} <= paths
    for path in [*sorted(paths), chat_path]:
        problems += await watch.visit(path)

    # What the scripts do: a live message arriving, a confirmation dialog, a reveal.
    await watch.visit(chat_path)
    await expect(page.locator("#live-status")).to_have_text("Live")
    await server.run(text_from_handset(rt.db, rt.routing, BOB, PROXY_US, "Outside now"))
    await expect(page.locator("#thread .bubble", has_text="Outside now")).to_be_visible()
    await page.locator(".reveal-form button").first.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("audit log records")
    await dialog.get_by_role("button", name="Reveal").click()
    await expect(page.locator(f"#revealed-{view.participants[0].public_id}")).to_have_text(ALICE)
    problems += [f"reveal: {v}" for v in await watch.violations()]

    # The sandbox's phones: send from one, see it arrive on the other.
    await watch.visit("/sandbox")
    alice = page.locator(f"#phone-{ALICE[1:]}")
    await alice.locator("textarea").fill("Texting from the sandbox")
    await alice.get_by_role("button", name="Send from this phone").click()
    bob = page.locator(f"#phone-{BOB[1:]} .phone-log")
    await expect(bob).to_contain_text("Texting from the sandbox")
    problems += [f"sandbox: {v}" for v in await watch.violations()]

    assert problems == []

    # The listener does see a violation: a style attribute written into the page.
    await page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')"
    )
    await page.wait_for_function("window.__cspViolations.length > 0")
    assert "style-src" in (await watch.violations())[0]

"""axe-core on every page of the app, in the light and the dark colour scheme, at
1280x800: no serious or critical violation anywhere.

Every GET route of the app is either a page listed in PAGES (how to reach it with
something on it) or a route listed in NOT_PAGES with the reason it is no page (JSON, a
fragment of a page that is checked, a redirect); a route in neither fails the first
test, so a new page cannot go unchecked. axe-core is vendored (static/vendor/axe-core)
and put into each page by this test only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from smsproxy.integrations.endpoints import EndpointSpec, create_endpoint
from smsproxy.models import UnroutedState
from smsproxy.proxy import users
from smsproxy.proxy.canned import add_reply
from smsproxy.proxy.notes import add_note
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.proxy.search import search_messages
from smsproxy.proxy.unrouted_inbox import set_state
from tests.browser.conftest import (
    ALICE,
    BOB,
    MODULE_LOOP,
    PROXY_UK,
    PROXY_US,
    SCREENSHOTS,
    TIMEOUT_MS,
    LiveServer,
)
from tests.helpers import create_api_key, start_chat

pytestmark = [pytest.mark.browser, MODULE_LOOP]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
REPORT = SCREENSHOTS.parent / "axe"
FAILING = ("serious", "critical")
SCHEMES = ("light", "dark")
STRANGER = "+447700900999"
INVITED = "invited.person"
INVITED_PASSWORD = "a one-time password for axe"


@dataclass(frozen=True)
class Visit:
    """A page as people see it: a path ({chat} and {endpoint} stand for the seeded chat
    and webhook endpoint), whether the visitor is logged out, and what makes it (a form
    that leads there)."""

    name: str
    path: str = ""
    who: str = "admin"  # "admin", "anonymous" or "invited"
    before: str = ""  # a step (STEPS) that brings the page up instead of a plain visit


# Endpoint: the visits that check it.
PAGES: dict[str, list[Visit]] = {
    "auth.get_login": [Visit("login", "/login", who="anonymous")],
    "dashboard.chats.get_chats": [
        Visit("chats", "/chats?density=comfortable"),
        Visit("chats-compact", "/chats?density=compact"),
        Visit("chats-no-match", "/chats?q=nothing-like-this&density=comfortable"),
        Visit("chats-filtered", "/chats?view=mine&sort=waiting&failed=1&density=comfortable"),
    ],
    "dashboard.chat.get_chat_page": [
        Visit("chat", "/chats/{chat}"),
        Visit("chat-workspace", before="open_workspace"),
        Visit("chat-search-hit", "/chats/{chat}?around={message}"),
    ],
    "dashboard.new_chat.get_new_chat": [Visit("new-chat", "/chats/new")],
    "dashboard.numbers.get_numbers": [Visit("numbers", "/numbers")],
    "dashboard.unrouted.get_unrouted": [
        Visit("unrouted", "/unrouted"),
        Visit("unrouted-handled", "/unrouted?view=handled"),
    ],
    "dashboard.sandbox.get_sandbox": [Visit("sandbox", "/sandbox")],
    "dashboard.keys.get_keys": [Visit("api-keys", before="create_key")],
    "dashboard.staff.get_staff": [Visit("staff", "/staff")],
    "dashboard.staff.get_one_time_password": [Visit("one-time-password", before="add_staff")],
    "dashboard.account.get_password": [
        Visit("account", "/account/password"),
        Visit("first-login", "/account/password", who="invited"),
    ],
    "dashboard.optouts.get_opt_outs": [Visit("opt-outs", "/opt-outs")],
    "dashboard.canned.get_canned_replies": [Visit("canned-replies", "/canned-replies")],
    "dashboard.search.get_search": [
        Visit("search", "/search?q=entrance"),
        Visit("search-start", "/search"),
        Visit("search-no-match", "/search?q=nothing-like-this"),
        Visit("search-refused", "/search?q=%22*%22"),
    ],
    "dashboard.audit.get_audit": [Visit("audit", "/audit")],
    "dashboard.reports.get_reports": [
        Visit("reports", "/reports"),
        Visit("reports-custom", "/reports?period=custom&from=2026-01-01&to=2026-01-03&bucket=hour"),
    ],
    "dashboard.integrations.get_integrations": [
        Visit("integrations", "/integrations"),
        Visit("integrations-created", before="add_endpoint"),
    ],
    "dashboard.integrations.get_endpoint_page": [
        Visit("integration-endpoint", "/integrations/{endpoint}")
    ],
    "docs.get_api_docs": [Visit("api-docs", "/api/docs")],
}
# Not a route, but a page people meet.
EXTRA = [Visit("not-found", "/no-such-page")]

NOT_PAGES: dict[str, str] = {
    "home": "redirects to /chats",
    "static": "files",
    "openapi": "the OpenAPI document (JSON)",
    "live.connect_live": "the live WebSocket",
    "dashboard.chat.get_older_messages": "bubbles for the chat page, checked there",
    "dashboard.chat.get_message": "one bubble for the chat page, checked there",
    "dashboard.notes.get_note": "one note card for the chat page, checked there",
    "dashboard.canned.get_reply_options": "the composer's canned replies (JSON)",
    "dashboard.chats.get_chat_row": "one row for the chat list, checked there",
    "dashboard.chat.get_triage": "the chat page's assignee and labels panel, checked there",
    "dashboard.numbers.get_numbers_table": "the Numbers page's pool, checked there",
    "dashboard.sandbox.get_phones": "the sandbox page's phones, checked there",
    "dashboard.unrouted.get_unrouted_row": "one row for the unrouted list, checked there",
    "dashboard.unrouted.get_unrouted_count": "the navigation's count (JSON)",
    "dashboard.renewal.get_unread": "the tab title's and navigation's unread count (JSON)",
    "dashboard.renewal.get_terms": "the chat page's details, checked there",
    "dashboard.audit.get_audit_csv": "the audit log as CSV",
    "dashboard.reports.get_report_csv": "one chart of the Reports page as CSV",
    "dashboard.exports.get_transcript": "a chat's transcript as a CSV or JSON file",
    "dashboard.exports.get_chats_csv": "the chat list as CSV",
}
NOT_PAGE_AREAS = {
    "api.": "the JSON API",
    "health.": "health checks (plain text)",
    "webhooks.": "the carrier's webhooks",
}

VISITS = [visit for visits in PAGES.values() for visit in visits] + EXTRA


async def test_every_get_route_is_a_checked_page_or_says_why_not(
    module_server: LiveServer,
) -> None:
    unlisted = []
    for rule in module_server.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        endpoint = rule.endpoint
        known = endpoint in PAGES or endpoint in NOT_PAGES
        if not known and not endpoint.startswith(tuple(NOT_PAGE_AREAS)):
            unlisted.append(f"{rule.rule} ({endpoint})")
    assert not unlisted, (
        "GET routes neither checked by axe (PAGES) nor excused (NOT_PAGES): " + ", ".join(unlisted)
    )


@dataclass(frozen=True)
class Seeded:
    chat: str
    endpoint: str
    message: str  # one of the chat's messages, as a search hit links to it


async def _seed(server: LiveServer) -> Seeded:
    rt = server.runtime
    view = await start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"), intro=True)
    for sender, proxy, text in (
        (ALICE, PROXY_UK, "I'm at the main entrance, by the blue car"),
        (BOB, PROXY_US, "Two minutes away"),
        (STRANGER, PROXY_UK, "Is this still the booking line?"),
        (STRANGER, PROXY_UK, "Hello again"),
    ):
        await text_from_handset(rt.db, rt.routing, sender, proxy, text)
    async with rt.db.transaction() as session:
        await add_note(
            session,
            view.chat.public_id,
            "Alice asked for the driver's name",
            author="axe",
            staff_user_id=None,
            actor="axe",
        )
        await add_reply(session, "Address confirmation", "Is the address right?", actor="axe")
    async with rt.db.transaction() as session:
        await users.create_user(session, INVITED, INVITED_PASSWORD, "agent", one_time=True)
        from smsproxy.proxy.unrouted_inbox import list_unrouted

        waiting, _ = await list_unrouted(session)
        await set_state(session, waiting[0].public_id, UnroutedState.handled, by="axe")
    await create_api_key(rt, "Booking system")
    async with rt.db.transaction() as session:
        spec = EndpointSpec("https://hooks.example.com/smsproxy", ["*"], "Booking service")
        endpoint, _ = await create_endpoint(session, spec, box=rt.webhooks.box, actor="axe")
    async with rt.db.read() as session:
        found = await search_messages(session, "entrance")
    return Seeded(view.chat.public_id, endpoint.public_id, found.hits[0].message_id)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(module_server: LiveServer) -> Seeded:
    return await module_server.run(_seed(module_server))


async def create_key(page: Page, scheme: str) -> None:
    await page.goto("/api-keys")
    await page.get_by_label("Name").fill(f"Shown once ({scheme})")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_label("The new API key")).to_be_visible()


async def add_staff(page: Page, scheme: str) -> None:
    await page.goto("/staff")
    await page.get_by_label("Username").fill(f"new.colleague.{scheme}")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_label("One-time password")).to_be_visible()


async def add_endpoint(page: Page, scheme: str) -> None:
    await page.goto("/integrations")
    await page.get_by_label("URL").fill(f"https://hooks.example.com/{scheme}")
    await page.get_by_label("Every event type").check()
    await page.get_by_role("button", name="Add endpoint").click()
    await expect(page.locator("#new-secret")).to_be_visible()


async def open_workspace(page: Page, scheme: str) -> None:
    """The chat page's composer in its note mode, its canned replies listed."""
    await page.goto("/chats")
    await page.locator("a.inbox-link").first.click()
    await page.locator("#composer").get_by_label("Private note — not sent").check()
    composer = page.get_by_role("textbox", name="Message")
    await composer.fill("")
    await composer.press_sequentially("/")
    await expect(page.get_by_role("listbox", name="Canned replies")).to_be_visible()


STEPS: dict[str, Callable[[Page, str], Awaitable[None]]] = {
    "open_workspace": open_workspace,
    "create_key": create_key,
    "add_staff": add_staff,
    "add_endpoint": add_endpoint,
}


async def _context(browser: Browser, server: LiveServer) -> BrowserContext:
    context = await browser.new_context(
        base_url=server.base_url,
        viewport={"width": 1280, "height": 800},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tabs(
    module_browser: Browser,
    module_server: LiveServer,
    admin_context: BrowserContext,
    seeded: Seeded,
) -> AsyncIterator[dict[str, Page]]:
    """One reused tab per kind of visitor (after the seed, which makes the invited one)."""
    anonymous = await _context(module_browser, module_server)
    invited = await _context(module_browser, module_server)
    try:
        first = await invited.new_page()
        await first.goto("/login")
        await first.get_by_label("Username").fill(INVITED)
        await first.get_by_label("Password").fill(INVITED_PASSWORD)
        await first.get_by_role("button", name="Log in").click()
        await expect(first.get_by_role("heading", name="Choose your password")).to_be_visible()
        yield {
            "admin": await admin_context.new_page(),
            "anonymous": await anonymous.new_page(),
            "invited": first,
        }
    finally:
        await anonymous.close()
        await invited.close()


async def violations(page: Page) -> list[dict[str, Any]]:
    # From the app's own static files: the Content-Security-Policy refuses inline code.
    await page.add_script_tag(url="/static/" + AXE.relative_to(ROOT / "static").as_posix())
    version = await page.evaluate("axe.version")
    assert version == AXE_VERSION, f"static/vendor/axe-core holds axe {version}"
    result: dict[str, Any] = await page.evaluate(
        """async () => {
            const results = await axe.run(document, {
                runOnly: { type: "tag", values: [
                    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice",
                ] },
                resultTypes: ["violations"],
            });
            return { violations: results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({
                    target: n.target.join(" "), impact: n.impact, summary: n.failureSummary,
                })),
            })) };
        }"""
    )
    found: list[dict[str, Any]] = result["violations"]
    return found


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for violation in found:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = " ".join((node["summary"] or "").split())[:300]
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


def record(name: str, scheme: str, found: list[dict[str, Any]]) -> None:
    """Every violation, failing or not, by rule: test-artifacts/axe/<page>-<scheme>.json."""
    REPORT.mkdir(parents=True, exist_ok=True)
    counts = Counter(
        f"{violation['id']} ({violation['impact']})"
        for violation in found
        for _ in violation["nodes"]
    )
    (REPORT / f"{name}-{scheme}.json").write_text(
        json.dumps({"counts": dict(counts), "violations": found}, indent=2)
    )


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("visit", VISITS, ids=[visit.name for visit in VISITS])
async def test_no_serious_or_critical_violation(
    tabs: dict[str, Page], seeded: Seeded, visit: Visit, scheme: str
) -> None:
    page = tabs[visit.who]
    await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    if visit.before:
        await STEPS[visit.before](page, scheme)
    else:
        await page.goto(
            visit.path.format(chat=seeded.chat, endpoint=seeded.endpoint, message=seeded.message)
        )
    if visit.who != "anonymous" and await page.locator("#live-status").count():
        # Scripts have run (the shell's live connection is up): the page as people use it.
        await expect(page.locator("#live-status")).to_have_text("Live")
    found = await violations(page)
    record(visit.name, scheme, found)
    failing = [violation for violation in found if violation["impact"] in FAILING]
    assert not failing, f"{visit.name} in {scheme} mode:\n{describe(failing)}"

"""The dashboard shell: layout, sandbox banner, error page, home, and app.js in Chromium."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from smsproxy.app import create_app
from smsproxy.config import Settings
from smsproxy.web.auth import add_home_redirect
from tests.conftest import IN_CI, STAFF_PASSWORD, add_staff, logged_in_client, make_settings
from tests.guarded import guarded, login, start_app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    async for value in start_app(settings):
        yield value


@pytest.mark.parametrize("admin", [True, False])
async def test_shell_for_staff_in_sandbox(app: Quart, admin: bool) -> None:
    username = "test-admin" if admin else "test-agent"
    client = await logged_in_client(app, username, "admin" if admin else "agent")
    html = await (await client.get("/guarded/page")).get_data(as_text=True)
    assert "inside the shell" in html
    for href in ("/chats", "/chats/new", "/numbers", "/unrouted", "/sandbox", "/api/docs"):
        assert f'href="{href}"' in html
    assert ('href="/api-keys"' in html) == admin
    assert "Sandbox mode:" in html and "no real SMS are sent" in html
    assert '<span id="live-status"' in html and 'data-state="idle"' in html
    assert 'action="/logout"' in html and 'name="csrf_token"' in html
    assert ("test-admin" if admin else "test-agent") in html


async def test_shell_without_sandbox(database_url: str) -> None:
    settings = make_settings(
        database_url, carrier="vonage", vonage_api_key="key", vonage_api_secret="secret"
    )
    async for app in start_app(settings):
        await add_staff(app, "alice", "agent")
        client = app.test_client()
        await login(client, "alice", STAFF_PASSWORD)
        html = await (await client.get("/guarded/page")).get_data(as_text=True)
        assert "inside the shell" in html
        assert "Sandbox mode" not in html and 'href="/sandbox"' not in html


async def test_error_page_is_html(app: Quart) -> None:
    response = await app.test_client().get("/no-such-page")
    html = await response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in html and "<html" in html


async def test_home_goes_to_chats(app: Quart, staff_client: Client) -> None:
    if app.url_map.bind("localhost").match("/")[0] != "home":
        pytest.skip("a dashboard page serves / itself")
    assert (await app.test_client().get("/")).headers["Location"] == "/login?next=/"
    response = await staff_client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/chats"


@pytest.mark.parametrize(("existing", "expected"), [(True, ["custom_home"]), (False, ["home"])])
def test_home_redirect_only_when_nobody_serves_home(existing: bool, expected: list[str]) -> None:
    app = Quart(__name__)
    if existing:
        app.add_url_rule("/", "custom_home", lambda: "custom")
    add_home_redirect(app)
    assert [rule.endpoint for rule in app.url_map.iter_rules() if rule.rule == "/"] == expected


# The shell in a real browser: login form, app.js (local times, confirmation, flashes)


@pytest.fixture
async def live_url(settings: Settings) -> AsyncIterator[str]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    app = create_app(settings, background=False)
    app.register_blueprint(guarded)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    await add_staff(app, "alice", "agent")
    yield f"http://127.0.0.1:{port}"
    stop.set()
    await server


@pytest.mark.browser
async def test_shell_in_chromium(live_url: str) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        if IN_CI:
            pytest.fail("the browser test needs /usr/bin/chromium in CI")
        pytest.skip("no chromium on this machine")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        context = await browser.new_context(locale="en-US", timezone_id="Asia/Tokyo")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{live_url}/guarded/widgets")
        await page.fill("#username", "alice")
        await page.fill("#password", STAFF_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/guarded/widgets")

        when = page.locator("#when")
        assert await when.text_content() == "5 minutes ago"
        shown = datetime.fromisoformat(await when.get_attribute("datetime") or "")
        tokyo = shown.astimezone(ZoneInfo("Asia/Tokyo"))
        assert f"{tokyo.hour % 12 or 12}:{tokyo.minute:02d}" in (
            await when.get_attribute("title") or ""
        )

        assert await page.locator(".flash").count() == 1
        await page.click(".flash-dismiss")
        assert await page.locator(".flash").count() == 0

        await page.click("#close")
        dialog = page.locator("dialog.confirm-dialog")
        assert await dialog.locator("p").text_content() == "Close this chat?"
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="detached")
        assert page.url.endswith("/guarded/widgets")
        await page.click("#close")
        await page.click("dialog button[value=confirm]")
        await page.wait_for_url("**/guarded/form")
        assert (await page.text_content("body")) == "posted"
        assert errors == []
        await browser.close()

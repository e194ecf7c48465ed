"""The real app, served by hypercorn on a free port in a thread of this process
(tests/live_server.py), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from smsproxy.app import create_app
from smsproxy.models import Role
from smsproxy.proxy import users
from smsproxy.runtime import Runtime
from tests.conftest import IN_CI, REDIS_URL, USE_POSTGRES, make_settings, truncate_all
from tests.helpers import add_numbers
from tests.live_server import LiveServer
from tests.server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Two cores run the server, its background jobs and Chromium at once: wait generously.
TIMEOUT_MS = 15_000
START_TIMEOUT = 30.0
LOGIN_URL = re.compile(r".*/login(\?.*)?$")

STAFF_USERNAME = "browser-admin"
STAFF_PASSWORD = "browser tests password"

# The pool: one UK and one US number, so that a UK and a US participant each get the
# number of their own country (DESIGN.md rule 2) and every SMS shows which one it used.
PROXY_UK = "+447700900100"
PROXY_US = "+12025550901"
ALICE = "+447700900001"  # UK: texts PROXY_UK
BOB = "+12025550111"  # US: texts PROXY_US

pytestmark = pytest.mark.browser

T = TypeVar("T")


def require_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if IN_CI:
        pytest.fail(message + ", and CI must run them")
    pytest.skip(message)


@pytest.fixture
def chromium_path() -> Path:
    return require_chromium()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


async def _seed(rt: Runtime) -> None:
    async with rt.db.transaction() as session:
        await users.create_user(session, STAFF_USERNAME, STAFF_PASSWORD, Role.admin, actor="tests")
    await add_numbers(rt, PROXY_UK, PROXY_US)


@pytest.fixture
def server(chromium_path: Path, database_url: str) -> Iterator[LiveServer]:
    """The app on the test's migrated database: sandbox carrier, background jobs on (the
    sender sends and the sandbox reports deliveries), Redis when REDIS_URL is set.
    Seeded with an admin (STAFF_USERNAME / STAFF_PASSWORD) and the two proxy numbers."""
    settings = make_settings(database_url, redis_url=REDIS_URL or None)
    live = LiveServer(create_app(settings, background=True), free_port())
    live.start()
    try:
        live.submit(_seed(live.runtime)).result(START_TIMEOUT)
        yield live
    finally:
        live.stop()


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        value = await playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield value
        finally:
            await value.close()


@pytest.fixture
async def context(browser: Browser, server: LiveServer) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile on the server. Closed before the server stops, so no
    page reconnects to a server that is going away."""
    value = await browser.new_context(
        base_url=server.base_url,
        viewport={"width": 1280, "height": 800},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    value.set_default_timeout(TIMEOUT_MS)
    try:
        yield value
    finally:
        await value.close()


async def log_in(page: Page, screenshots: Path | None = None) -> None:
    """Through the login form, as a person does, from a page that asks for it."""
    await page.goto("/chats")
    await expect(page).to_have_url(LOGIN_URL)
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    if screenshots is not None:
        await shoot(page, screenshots, "login")
    await page.get_by_label("Username").fill(STAFF_USERNAME)
    await page.get_by_label("Password").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Chats", exact=True)).to_be_visible()


async def shoot(page: Page, directory: Path, name: str) -> Path:
    """A full-page PNG, from the top: clicks scroll the window, and sticky bars would
    then sit mid-page in the picture."""
    path = directory / f"{name}.png"
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


async def mark_page(page: Page) -> None:
    """Leave a mark in the document: still there later means the page never reloaded."""
    await page.evaluate("window.__notReloaded = true")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__notReloaded === true"), "the page reloaded"


# One server, browser and logged-in admin for a whole module: for modules of many short
# tests that each look at a page or two (tests/browser/test_daily_use.py, the axe-core
# pass over every page). Their tests share the database: each makes what it needs under
# names of its own. Mark such a module with MODULE_LOOP so its tests run on the loop the
# module's fixtures live on.
MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> str:
    if USE_POSTGRES:
        url: str = request.getfixturevalue("_postgres_database")
        asyncio.run(truncate_all(url))
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path_factory.mktemp("browser-module") / "smsproxy.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def module_server(module_database_url: str) -> Iterator[LiveServer]:
    """As `server`, for a whole module."""
    require_chromium()
    settings = make_settings(module_database_url, redis_url=REDIS_URL or None)
    live = LiveServer(create_app(settings, background=True), free_port())
    live.start()
    try:
        live.submit(_seed(live.runtime)).result(START_TIMEOUT)
        yield live
    finally:
        live.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_browser() -> AsyncIterator[Browser]:
    chromium = require_chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        value = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield value
        finally:
            await value.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin_context(
    module_browser: Browser, module_server: LiveServer
) -> AsyncIterator[BrowserContext]:
    """A browser profile logged in as the seeded admin, for the whole module."""
    value = await module_browser.new_context(
        base_url=module_server.base_url,
        viewport={"width": 1280, "height": 800},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    value.set_default_timeout(TIMEOUT_MS)
    try:
        page = await value.new_page()
        await log_in(page)
        await page.close()
        yield value
    finally:
        await value.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(admin_context: BrowserContext) -> AsyncIterator[Page]:
    """A fresh tab of the logged-in admin (modules on MODULE_LOOP); fails the test on any
    script error in it."""
    value = await admin_context.new_page()
    errors: list[str] = []
    value.on("pageerror", lambda error: errors.append(str(error)))
    yield value
    await value.close()
    assert errors == [], f"script errors on the page: {errors}"


async def assert_fits_width(page: Page) -> None:
    """Nothing sticks out sideways: a phone user never scrolls left and right. On failure,
    names the elements that reach past the right edge."""
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        culprits = await page.evaluate(
            """() => [...document.querySelectorAll("body *")]
                .filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5)
                .slice(0, 8)
                .map((el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}`
                    + `.${[...el.classList].join(".")}`
                    + ` (right ${Math.round(el.getBoundingClientRect().right)})`)"""
        )
        raise AssertionError(f"the page is {overflow}px wider than the screen: {culprits}")

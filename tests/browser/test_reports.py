"""The Reports page in Chromium: uPlot draws every chart (canvas and legend) under the
strict Content-Security-Policy, the period changes, a chart downloads as CSV, the
charts follow the colour scheme and a phone's width."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, ViewportSize, expect

from smsproxy.proxy.sandbox import text_from_handset
from tests.browser.conftest import (
    ALICE,
    BOB,
    PROXY_UK,
    PROXY_US,
    LiveServer,
    assert_fits_width,
    log_in,
    shoot,
)
from tests.browser.test_csp import RECORD_VIOLATIONS, Watch
from tests.helpers import start_chat

pytestmark = pytest.mark.browser

CHARTS = 7
PHONE: ViewportSize = {"width": 390, "height": 844}


async def test_reports_draw_switch_period_download_and_follow_the_scheme(
    context: BrowserContext, server: LiveServer, screenshots: Path
) -> None:
    rt = server.runtime
    await server.run(start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"), intro=True))
    for sender, proxy, body in (
        (ALICE, PROXY_UK, "On my way"),
        (BOB, PROXY_US, "Outside now"),
        (ALICE, PROXY_UK, "Two minutes"),
    ):
        await server.run(text_from_handset(rt.db, rt.routing, sender, proxy, body))

    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    watch = Watch(page)
    await log_in(page)
    await page.get_by_role("link", name="Reports").click()
    await expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()

    plots = page.locator(".report-plot")
    await expect(plots).to_have_count(CHARTS)
    await expect(page.locator(".report-plot canvas")).to_have_count(CHARTS)
    traffic = page.locator("#chart-traffic")
    await expect(traffic.locator(".u-legend")).to_contain_text("In (SMS received)")
    await expect(traffic.locator(".u-legend")).to_contain_text("Out (SMS accepted by the carrier)")
    await expect(traffic).to_contain_text("3 SMS received")
    await shoot(page, screenshots, "reports")

    # The text alternative: the numbers as a table, one row per hour.
    await traffic.get_by_text("Table of the numbers").click()
    await expect(traffic.locator(".report-data tbody tr")).to_have_count(24)

    # A chart's CSV, downloaded as people do.
    async with page.expect_download() as download_info:
        await traffic.get_by_role("link", name="CSV of messages in and out").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("smsproxy-traffic-")
    rows = list(csv.reader(io.StringIO(Path(await download.path()).read_text())))
    assert rows[0] == ["start (UTC)", "In (SMS received)", "Out (SMS accepted by the carrier)"]
    assert len(rows) == 1 + 24
    assert sum(int(row[1]) for row in rows[1:]) == 3

    # Another period: seven days, a point a day.
    await page.get_by_label("Last 7 days").check()
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r".*/reports\?period=7d.*"))
    await expect(page.locator("#report-range")).to_contain_text("7 days")
    await expect(page.locator(".report-plot canvas")).to_have_count(CHARTS)
    await traffic.get_by_text("Table of the numbers").click()
    await expect(traffic.locator(".report-data tbody tr")).to_have_count(7)

    # Dark mode: the charts are drawn again, in the dark scheme's colours.
    await page.evaluate("window.__lightCanvas = document.querySelector('.report-plot canvas')")
    light_axis = await axis_colour(page)
    await page.emulate_media(color_scheme="dark")
    await page.wait_for_function(
        "document.querySelector('.report-plot canvas') !== window.__lightCanvas"
    )
    await expect(page.locator(".report-plot canvas")).to_have_count(CHARTS)
    assert await axis_colour(page) != light_axis
    await shoot(page, screenshots, "reports-dark")
    await page.emulate_media(color_scheme="light")

    # A phone: every chart as wide as the screen allows, and nothing sticks out.
    await page.set_viewport_size(PHONE)
    await page.wait_for_function(
        "[...document.querySelectorAll('.report-plot')].every("
        "(plot) => plot.querySelector('.uplot').offsetWidth <= plot.clientWidth)"
    )
    await assert_fits_width(page)
    await shoot(page, screenshots, "reports-phone")

    assert await watch.violations() == []
    assert errors == []


async def axis_colour(page: Page) -> str:
    """The colour the charts were drawn with: the --muted of the scheme in force."""
    value: str = await page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--muted').trim()"
    )
    return value

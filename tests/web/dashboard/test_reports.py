"""The Reports page and its CSV downloads, through the app."""

from __future__ import annotations

import csv
import html as html_module
import io
import json
import re
from datetime import UTC, datetime, timedelta

from quart.typing import TestClientProtocol as Client

from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.web.dashboard.pages import DRIVER, RIDER, assert_masked, reply, text

CHARTS = ("traffic", "delivery", "failures", "delay", "pool", "optouts", "held")


def embedded(html: str) -> dict[str, object]:
    found = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    assert found, "the page embeds no report data"
    data: dict[str, object] = json.loads(found.group(1))
    return data


async def csv_rows(client: Client, path: str) -> list[list[str]]:
    response = await client.get(path)
    assert response.status_code == 200, await text(response)
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(await text(response))))


async def test_an_agent_sees_every_chart_of_the_last_24_hours(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "On my way")
    await reply(app_runtime, chat, DRIVER, "Outside")

    response = await agent_client.get("/reports")
    html = await text(response)

    assert response.status_code == 200
    assert 'href="/reports" aria-current="page"' in html
    for key in CHARTS:
        assert f'data-chart="{key}"' in html
        assert f'href="/reports/{key}.csv?period=24h"' in html
    data = embedded(html)
    assert data["bucket"] == "hour"
    starts = data["starts"]
    assert isinstance(starts, list) and len(starts) == 24
    assert starts[1] - starts[0] == 3600
    charts = {chart["key"]: chart for chart in data["charts"]}  # type: ignore[attr-defined]
    received = charts["traffic"]["series"][0]["values"]
    assert sum(received) == 2 and received[-1] == 2
    assert "2 SMS received" in html
    assert_masked(html)


async def test_a_chart_downloads_as_csv_per_bucket(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Hello")

    rows = await csv_rows(staff_client, "/reports/traffic.csv?period=7d")
    assert rows[0] == ["start (UTC)", "In (SMS received)", "Out (SMS accepted by the carrier)"]
    assert len(rows) == 1 + 7
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    assert rows[-1][0] == today and rows[-1][1] == "1"
    assert [row[1] for row in rows[1:-1]] == ["0"] * 6

    since = (datetime.now(UTC) - timedelta(days=2)).date()
    custom = await csv_rows(
        staff_client, f"/reports/delay.csv?period=custom&from={since}&to={since}&bucket=hour"
    )
    assert custom[0][1:] == [
        "Accepted, p50 (s)",
        "Accepted, p95 (s)",
        "Delivered, p50 (s)",
        "Delivered, p95 (s)",
    ]
    assert len(custom) == 1 + 24 and custom[1][0] == f"{since}T00:00:00Z"
    assert custom[1][1:] == ["", "", "", ""], "no data is an empty cell, not 0"


async def test_bad_periods_are_refused_with_the_reason(staff_client: Client) -> None:
    response = await staff_client.get("/reports?period=custom&from=2026-03-02&to=2026-03-01")
    assert response.status_code == 422
    html = await text(response)
    assert "The end date is before the start date" in html
    assert 'id="report-data"' not in html

    response = await staff_client.get("/reports?period=custom&from=2026-02-30&to=2026-03-01")
    assert response.status_code == 422
    assert "is not a date (YYYY-MM-DD)" in await text(response)

    response = await staff_client.get("/reports/traffic.csv?period=1y")
    assert response.status_code == 422
    assert "period must be 24h, 7d, 30d or custom" in await text(response)

    response = await staff_client.get("/reports/nothing.csv?period=24h")
    assert response.status_code == 404
    assert "No chart called 'nothing'" in html_module.unescape(await text(response))

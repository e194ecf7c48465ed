"""The number pool page: load, and what admins and agents may change."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from smsproxy.models import (
    ProxyNumber,
)
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.helpers import add_numbers
from tests.web.dashboard.pages import (
    P1,
    P2,
    assert_masked,
    field_error,
    rows_of,
    text,
)


async def test_numbers_page_shows_load(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    html = await text(await staff_client.get("/numbers"))
    assert P1 in html and P2 in html
    assert "Add a proxy number" in html and "Disable" in html
    assert re.search(r'<td class="num" data-label="Active chats">1</td>', html)
    assert "2 active routes" in html
    assert_masked(html)
    # What the page refreshes itself from when numbers or chats change.
    table = await staff_client.get("/numbers/table")
    fragment = await text(table)
    assert table.status_code == 200 and table.headers["Cache-Control"] == "no-store"
    assert fragment.startswith('<section class="numbers-pool" id="numbers-pool"')
    assert P1 in fragment and "2 active routes" in fragment and "<html" not in fragment


def row_of(html: str, number: str) -> str:
    start = html.index(f'<tr id="number-{number[1:]}">')
    return html[start : html.index("</tr>", start)]


async def test_remove_is_offered_only_where_it_can_work(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    busy = chat.participants[0].proxy_number
    free = P2 if busy == P1 else P1
    html = await text(await staff_client.get("/numbers"))
    busy_row, free_row = row_of(html, busy), row_of(html, free)
    slug = busy[1:]
    assert f'disabled aria-describedby="remove-why-{slug}">Remove' in busy_row
    assert f'action="/numbers/{busy}/remove"' not in busy_row
    assert (
        f'id="remove-why-{slug}">Carries 1 active chat: disable it and remove it once that '
        "chat has ended.</span>"
    ) in busy_row
    assert f'action="/numbers/{free}/remove"' in free_row and "remove-why" not in free_row


async def test_admin_adds_a_number(staff_client: Client, app_runtime: Runtime) -> None:
    response = await csrf_post(
        staff_client, "/numbers", {"number": "+44 7700 900901", "label": "UK"}
    )
    assert response.status_code == 303
    html = await text(await staff_client.get("/numbers"))
    assert f"{P1} added to the pool." in html and "GB · UK" in html

    duplicate = await csrf_post(staff_client, "/numbers", {"number": P1, "label": "again"})
    html = await text(duplicate)
    assert duplicate.status_code == 409
    assert "already in the pool" in field_error(html, "number") and 'value="again"' in html

    bad = await csrf_post(staff_client, "/numbers", {"number": "12", "label": ""})
    html = await text(bad)
    assert bad.status_code == 422 and 'value="12"' in html
    assert field_error(html, "number")


async def test_admin_disables_enables_and_removes(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    busy = chat.participants[0].proxy_number
    response = await csrf_post(staff_client, f"/numbers/{busy}/enabled", {"enabled": "no"})
    assert response.status_code == 303
    html = await text(await staff_client.get("/numbers"))
    assert f"{busy} is disabled" in html and "Enable" in html

    refused = await csrf_post(staff_client, f"/numbers/{busy}/remove", {})
    html = await text(refused)
    assert refused.status_code == 409
    assert re.search(r'class="row-error".*carries 1 active chat', html, re.S)

    await csrf_post(staff_client, f"/numbers/{busy}/enabled", {"enabled": "yes"})
    free = P2 if busy == P1 else P1
    assert (await csrf_post(staff_client, f"/numbers/{free}/remove", {})).status_code == 303
    html = await text(await staff_client.get("/numbers"))
    assert f"{free} removed from the pool." in html
    assert f'id="number-{free[1:]}"' not in html

    unknown = await csrf_post(staff_client, "/numbers/+447700900777/remove", {})
    assert unknown.status_code == 404 and "is not in the pool" in await text(unknown)


async def test_agents_see_numbers_but_cannot_change_them(
    agent_client: Client, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    html = await text(await agent_client.get("/numbers"))
    assert P1 in html and "Only administrators" in html
    assert 'action="/numbers"' not in html and "Disable" not in html
    for path, form in [
        ("/numbers", {"number": P2}),
        (f"/numbers/{P1}/enabled", {"enabled": "no"}),
        (f"/numbers/{P1}/remove", {}),
    ]:
        response = await csrf_post(agent_client, path, form)
        assert response.status_code == 403, path
    [number] = await rows_of(app_runtime, ProxyNumber)
    assert number.enabled

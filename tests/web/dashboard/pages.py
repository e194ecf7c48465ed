"""What the dashboard page tests share: people, numbers, and readers of the HTML."""

from __future__ import annotations

import re
from typing import Any

from quart.wrappers import Response
from sqlmodel import select

from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime

P1, P2 = "+447700900901", "+447700900902"
RIDER, DRIVER = "+447700900001", "+447700900002"
STRANGER = "+447700900999"
REAL_NUMBERS = (RIDER, DRIVER, STRANGER)
JSON = {"Accept": "application/json"}


async def text(response: Response) -> str:
    return await response.get_data(as_text=True)


def assert_masked(html: str) -> None:
    """No participant's real number, in any usual spelling, is on the page."""
    for number in REAL_NUMBERS:
        for spelling in (number, number[1:], "0" + number[3:]):
            assert spelling not in html, f"{spelling} shown in full"


def bubble(html: str, body: str) -> str:
    """The <article> of the message whose text is `body`."""
    at = html.index(body)
    start = html.rindex("<article", 0, at)
    return html[start : html.index("</article>", at)]


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert found, f"no error shown for {field_id}"
    return found.group(1)


async def rows_of(rt: Runtime, model: Any, *conditions: Any) -> list[Any]:
    async with rt.db.read() as session:
        return list((await session.exec(select(model).where(*conditions))).all())


async def reply(rt: Runtime, view: ChatView, sender: str, body: str) -> None:
    proxy = next(p.proxy_number for p in view.participants if p.real_number == sender)
    await text_from_handset(rt.db, rt.routing, sender, proxy, body)


def delivery_rows(html: str) -> list[tuple[list[str], str]]:
    """The delivery rows of a bubble: (recipients, state) each, in order."""
    rows = []
    for row in re.findall(r'<li class="delivery" data-status="[^"]+">(.*?)</li>', html, re.S):
        names = re.findall(
            r'<span class="recipient" data-delivery-id="[^"]+" data-order="\d+">([^<]*)</span>', row
        )
        status = re.search(r'data-role="status" data-status="([^"]+)"', row)
        assert status, row
        rows.append((names, status.group(1)))
    return rows

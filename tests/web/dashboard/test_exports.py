"""Downloads from the dashboard: a chat's transcript from its page, and the chat list,
filtered as the list is, from its Export CSV link."""

from __future__ import annotations

import csv
import html as markup
import io
import re

from quart.typing import TestClientProtocol as Client
from sqlmodel import select

from smsproxy.models import AuditEvent
from smsproxy.proxy.chats import close_chat
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.runtime import Runtime
from tests.helpers import start_chat
from tests.web.dashboard.pages import DRIVER, RIDER, reply, text

CHAT_HEADER = [
    "chat_id",
    "status",
    "reference",
    "created_at",
    "last_activity_at",
    "closed_at",
    "close_reason",
    "participants",
]


async def rows_of(client: Client, path: str) -> list[list[str]]:
    response = await client.get(path)
    assert response.status_code == 200, await text(response)
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(await text(response))))


async def exports(rt: Runtime, action: str) -> list[AuditEvent]:
    async with rt.db.read() as session:
        return list(
            (await session.exec(select(AuditEvent).where(AuditEvent.action == action))).all()
        )


async def test_the_chat_page_downloads_its_transcript(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "On my way")
    chat_id = chat.chat.public_id

    page = await text(await agent_client.get(f"/chats/{chat_id}"))
    assert f'href="/chats/{chat_id}/transcript.csv" download' in page
    assert f'href="/chats/{chat_id}/transcript.json" download' in page

    rows = await rows_of(agent_client, f"/chats/{chat_id}/transcript.csv")
    assert rows[0][:3] == ["time", "message_id", "direction"]
    assert rows[-1][3:6] == ["Rider (+44770•••••01)", "Driver (+44770•••••02)", "On my way"]
    response = await agent_client.get(f"/chats/{chat_id}/transcript.json")
    assert (await response.get_json())["messages"][-1]["body"] == "On my way"

    assert (await agent_client.get(f"/chats/{chat_id}/transcript.xml")).status_code == 404
    assert (await agent_client.get("/chats/ch_nope/transcript.csv")).status_code == 404
    assert [e.detail["format"] for e in await exports(app_runtime, "chat.export")] == [
        "csv",
        "json",
    ]


async def test_the_list_exports_what_its_filter_shows(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    other = await start_chat(app_runtime, ("+447700900003", "Carol"), (DRIVER, "Dan"))
    async with app_runtime.db.transaction() as session:
        view = await get_chat(session, other.chat.public_id)
        await close_chat(
            session,
            view.chat,
            reason="staff",
            actor="tests",
            goodbye=False,
            templates=app_runtime.templates,
        )

    listed = await text(await staff_client.get("/chats?status=all&q=Carol"))
    link = re.search(r'<a class="btn" href="([^"]+)" download>Export CSV</a>', listed)
    assert link, "the list has no Export CSV link"
    assert markup.unescape(link.group(1)) == "/chats/export.csv?status=all&q=Carol"

    rows = await rows_of(staff_client, "/chats/export.csv?status=all&q=Carol")
    assert rows[0] == CHAT_HEADER
    assert [row[0] for row in rows[1:]] == [other.chat.public_id]
    assert rows[1][1] == "closed" and rows[1][6] == "staff"
    assert "Carol (+44770•••••03) via +4477009009" in rows[1][7]

    active = await rows_of(staff_client, "/chats/export.csv")  # the list's default: active
    assert [row[0] for row in active[1:]] == [chat.chat.public_id]
    everyone = await rows_of(staff_client, "/chats/export.csv?status=all")
    assert {row[0] for row in everyone[1:]} == {chat.chat.public_id, other.chat.public_id}
    body = "".join(",".join(row) for row in everyone)
    assert RIDER not in body and DRIVER not in body

    bad = await staff_client.get("/chats/export.csv?status=nonsense")
    assert bad.status_code == 400

    found = await exports(app_runtime, "chats.export")
    assert [e.detail for e in found] == [
        {"count": 1, "status": "all", "searched": True},
        {"count": 1, "status": "active", "searched": False},
        {"count": 2, "status": "all", "searched": False},
    ]
    assert all(e.actor == "staff:test-admin" for e in found)

"""The chat page's Reopen button and Extend form, and the unread count endpoint."""

from __future__ import annotations

from datetime import timedelta

from quart.typing import TestClientProtocol as Client
from sqlmodel import select

from smsproxy.db import utcnow
from smsproxy.models import AuditEvent, Chat, ChatStatus
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.helpers import start_chat
from tests.web.dashboard.pages import DRIVER, RIDER, reply, text


async def stored(rt: Runtime, chat: ChatView) -> Chat:
    async with rt.db.read() as session:
        found = await session.get(Chat, chat.chat.id)
    assert found is not None
    return found


async def test_reopen_from_the_page(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    path = f"/chats/{chat.chat.public_id}"
    html = await text(await staff_client.get(path))
    assert 'id="reopen-actions" hidden' in html  # active: nothing to reopen
    await csrf_post(staff_client, f"{path}/close", {})
    html = await text(await staff_client.get(path))
    assert 'id="reopen-actions">' in html and "Reopen chat" in html
    response = await csrf_post(staff_client, f"{path}/reopen", {})
    assert response.status_code == 303
    assert (await stored(app_runtime, chat)).status == ChatStatus.active
    html = await text(await staff_client.get(path))
    assert "Chat reopened" in html and 'id="composer"' in html
    async with app_runtime.db.read() as session:
        entry = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "chat.reopen"))
        ).one()
    assert entry.actor == "staff:test-admin"


async def test_reopen_refused_says_whose_route_is_taken(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    path = f"/chats/{chat.chat.public_id}"
    await csrf_post(staff_client, f"{path}/close", {})
    await start_chat(app_runtime, ("+447700900003", "Guest"), (DRIVER, "Driver"))
    await start_chat(app_runtime, ("+447700900004", "Guest 2"), (DRIVER, "Driver"))
    response = await csrf_post(staff_client, f"{path}/reopen", {})
    assert response.status_code == 409
    html = await text(response)
    assert "Participant 2 (Driver, +44770•••••02) has an active chat" in html
    assert DRIVER not in html
    assert (await stored(app_runtime, chat)).status == ChatStatus.closed


async def test_extend_from_the_page(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    path = f"/chats/{chat.chat.public_id}"
    html = await text(await staff_client.get(path))
    assert "Expire later by" not in html  # no expiry yet: nothing to add to
    later = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    form = {"expires_at": later.strftime("%Y-%m-%dT%H:%M"), "tz_offset": "0", "ttl": "keep"}
    assert (await csrf_post(staff_client, f"{path}/extend", form)).status_code == 303
    assert (await stored(app_runtime, chat)).expires_at == later
    html = await text(await staff_client.get(path))
    assert "Expire later by" in html and "+24 hours" in html
    response = await csrf_post(staff_client, f"{path}/extend", {"by": "86400", "ttl": "3600"})
    assert response.status_code == 303
    found = await stored(app_runtime, chat)
    assert found.expires_at == later + timedelta(days=1) and found.idle_ttl_seconds == 3600
    terms = await text(await staff_client.get(f"{path}/terms"))
    assert terms.startswith('<section class="chat-terms"') and "1 h" in terms


async def test_extend_refuses_what_was_not_offered(staff_client: Client, chat: ChatView) -> None:
    path = f"/chats/{chat.chat.public_id}"
    response = await csrf_post(staff_client, f"{path}/extend", {"by": "5", "ttl": "keep"})
    assert response.status_code == 422
    assert "Choose one of the extensions offered" in await text(response)
    response = await csrf_post(staff_client, f"{path}/extend", {"expires_at": "tomorrow"})
    assert response.status_code == 422
    html = await text(response)
    assert "Enter a date and time" in html and '<details class="extend" open>' in html


async def test_unread_counts_participants_texts_in_active_chats(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    async def unread() -> int:
        response = await staff_client.get("/chats/unread")
        body = await response.get_json()
        assert body["cap"] == 100
        return int(body["unread"])

    assert await unread() == 0
    await reply(app_runtime, chat, RIDER, "Hello?")
    await reply(app_runtime, chat, DRIVER, "On my way")
    assert await unread() == 2
    await staff_client.get(f"/chats/{chat.chat.public_id}")  # reading clears them
    assert await unread() == 0
    await reply(app_runtime, chat, RIDER, "Here")
    assert await unread() == 1
    await csrf_post(staff_client, f"/chats/{chat.chat.public_id}/close", {})
    assert await unread() == 0  # closed chats need no answer

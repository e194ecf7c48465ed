"""Revealing a participant's real number: admins on the chat page, keys with the
permission through the API; agents and other keys never. Each reveal is audited, with
who asked and which participant, and never the number."""

from __future__ import annotations

import argparse

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import col, select

from smsproxy.models import AuditEvent
from smsproxy.proxy import keys
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.helpers import add_numbers, auth, start_chat

RIDER, DRIVER = "+447700900001", "+447700900002"
PROXY = "+447700900901"


@pytest.fixture
async def chat(app_runtime: Runtime) -> ChatView:
    await add_numbers(app_runtime, PROXY)
    return await start_chat(app_runtime, (RIDER, "Rider"), (DRIVER, "Driver"))


async def reveal_key(rt: Runtime) -> str:
    async with rt.db.transaction() as session:
        _, key = await keys.create_key(session, "support desk", actor="tests", can_reveal=True)
    return key


async def audit_entries(rt: Runtime, action: str) -> list[AuditEvent]:
    async with rt.db.read() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        return list((await session.exec(query)).all())


def reveal_path(chat: ChatView, index: int, api: bool) -> str:
    prefix = "/api/v1" if api else ""
    participant = chat.participants[index].public_id
    return f"{prefix}/chats/{chat.chat.public_id}/participants/{participant}/reveal"


# Through the API


async def test_a_key_with_the_permission_gets_the_number_and_is_audited(
    app: Quart, app_runtime: Runtime, chat: ChatView
) -> None:
    key = await reveal_key(app_runtime)
    response = await app.test_client().post(reveal_path(chat, 1, api=True), headers=auth(key))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert await response.get_json() == {
        "participant_id": chat.participants[1].public_id,
        "chat_id": chat.chat.public_id,
        "number": DRIVER,
    }
    [entry] = await audit_entries(app_runtime, "participant.reveal")
    assert entry.actor == f"api_key:{key[:12]}"
    assert entry.target == chat.participants[1].public_id
    assert entry.detail == {"chat": chat.chat.public_id}
    assert DRIVER[1:] not in repr((entry.actor, entry.target, entry.detail))


async def test_a_key_without_the_permission_is_refused(
    app: Quart, app_runtime: Runtime, api_key: str, chat: ChatView
) -> None:
    response = await app.test_client().post(reveal_path(chat, 0, api=True), headers=auth(api_key))
    assert response.status_code == 403
    error = (await response.get_json())["error"]
    assert error["code"] == "forbidden" and "--reveal" in error["message"]
    assert RIDER[1:] not in await response.get_data(as_text=True)
    assert await audit_entries(app_runtime, "participant.reveal") == []


async def test_a_participant_of_another_chat_is_not_found(
    app: Quart, app_runtime: Runtime, chat: ChatView
) -> None:
    await add_numbers(app_runtime, "+447700900902")
    other = await start_chat(app_runtime, ("+447700900003", "C"), ("+447700900004", "D"))
    key = await reveal_key(app_runtime)
    path = f"/api/v1/chats/{chat.chat.public_id}/participants/{other.participants[0].public_id}"
    response = await app.test_client().post(path + "/reveal", headers=auth(key))
    assert response.status_code == 404
    assert await audit_entries(app_runtime, "participant.reveal") == []


# On the chat page


async def test_an_admin_reveals_a_number_for_that_view_only(
    app_runtime: Runtime, staff_client: Client, chat: ChatView
) -> None:
    page = await (await staff_client.get(f"/chats/{chat.chat.public_id}")).get_data(as_text=True)
    assert page.count("Reveal number") == 2 and RIDER not in page

    response = await csrf_post(staff_client, reveal_path(chat, 0, api=False))
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert f'id="revealed-{chat.participants[0].public_id}">{RIDER}<' in html
    assert DRIVER not in html  # only the one asked for
    [entry] = await audit_entries(app_runtime, "participant.reveal")
    assert (entry.actor, entry.target) == ("staff:test-admin", chat.participants[0].public_id)

    again = await (await staff_client.get(f"/chats/{chat.chat.public_id}")).get_data(as_text=True)
    assert RIDER not in again


async def test_an_agent_has_no_button_and_is_refused(
    app_runtime: Runtime, agent_client: Client, chat: ChatView
) -> None:
    page = await (await agent_client.get(f"/chats/{chat.chat.public_id}")).get_data(as_text=True)
    assert "Reveal number" not in page
    response = await csrf_post(agent_client, reveal_path(chat, 0, api=False))
    assert response.status_code == 403
    assert RIDER not in await response.get_data(as_text=True)
    assert await audit_entries(app_runtime, "participant.reveal") == []


async def test_a_reveal_without_the_csrf_token_is_refused(
    app_runtime: Runtime, staff_client: Client, chat: ChatView
) -> None:
    response = await staff_client.post(
        reveal_path(chat, 0, api=False), headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 403
    assert await audit_entries(app_runtime, "participant.reveal") == []


# Keys get the permission only when asked


async def test_keys_get_the_permission_only_when_asked(
    app_runtime: Runtime, staff_client: Client
) -> None:
    await csrf_post(staff_client, "/api-keys", {"name": "plain"})
    await csrf_post(staff_client, "/api-keys", {"name": "support", "can_reveal": "yes"})
    async with app_runtime.db.read() as session:
        found = {k.name: k.can_reveal for k in await keys.list_keys(session)}
    assert found == {"plain": False, "support": True}
    [_, created] = await audit_entries(app_runtime, "api_key.create")
    assert created.detail == {"name": "support", "can_reveal": True}


async def test_the_cli_grants_it_with_reveal(runtime: Runtime) -> None:
    from smsproxy.cli import admin

    for name, reveal in (("plain", False), ("support", True)):
        assert await admin.keys_create(runtime, argparse.Namespace(name=name, reveal=reveal)) == 0
    async with runtime.db.read() as session:
        assert {k.name: k.can_reveal for k in await keys.list_keys(session)} == {
            "plain": False,
            "support": True,
        }

"""POST /api/v1/chats/{id}/assignee: assign a chat to a staff member or to nobody."""

from __future__ import annotations

from typing import Any

from quart import Quart
from sqlmodel import col

from smsproxy.models import AuditEvent, Chat
from smsproxy.runtime import Runtime
from tests.conftest import add_staff
from tests.helpers import add_numbers, auth, start_chat
from tests.web.dashboard.pages import rows_of


async def post(app: Quart, key: str, chat_id: str, body: Any) -> tuple[int, Any]:
    response = await app.test_client().post(
        f"/api/v1/chats/{chat_id}/assignee", json=body, headers=auth(key)
    )
    return response.status_code, await response.get_json()


async def test_assign_and_unassign(app: Quart, api_key: str, app_runtime: Runtime) -> None:
    alice = await add_staff(app, "alice")
    await add_numbers(app_runtime, "+447700900901")
    view = await start_chat(app_runtime, ("+447700900001", "A"), ("+447700900002", "B"))
    chat_id = view.chat.public_id
    assert await post(app, api_key, chat_id, {"assignee": "alice"}) == (
        200,
        {"id": chat_id, "assignee": "alice", "changed": True},
    )
    assert (await post(app, api_key, chat_id, {"assignee": "alice"}))[1]["changed"] is False
    [chat] = await rows_of(app_runtime, Chat, col(Chat.id) == view.chat.id)
    assert chat.assignee_id == alice.id
    assert await post(app, api_key, chat_id, {"assignee": None}) == (
        200,
        {"id": chat_id, "assignee": None, "changed": True},
    )
    entries = await rows_of(app_runtime, AuditEvent, col(AuditEvent.target) == chat_id)
    actions = [(e.action, e.actor.split(":")[0]) for e in entries if e.action != "chat.create"]
    assert actions == [("chat.assign", "api_key"), ("chat.unassign", "api_key")]


async def test_errors_are_json_and_say_what_is_wrong(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, "+447700900901")
    view = await start_chat(app_runtime, ("+447700900001", "A"), ("+447700900002", "B"))
    status, body = await post(app, api_key, view.chat.public_id, {"assignee": "nobody"})
    assert status == 422
    assert body["error"]["field"] == "assignee"
    assert "No staff member is named 'nobody'" in body["error"]["message"]
    status, body = await post(app, api_key, "ch_missing", {"assignee": None})
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await post(app, api_key, view.chat.public_id, {})
    assert status == 400 and body["error"]["code"] == "invalid_request"
    status, body = await post(app, api_key, view.chat.public_id, {"assignee": 5})
    assert status == 400

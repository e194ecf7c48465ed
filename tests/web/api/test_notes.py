"""Private notes through the API: only when asked for, never in the transcript."""

from __future__ import annotations

from quart import Quart

from smsproxy.models import AuditEvent, ChatNote
from smsproxy.runtime import Runtime
from tests.helpers import auth
from tests.web.api.test_messages import new_chat
from tests.web.dashboard.pages import rows_of


async def test_notes_are_kept_and_listed_but_left_out_of_the_transcript(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat = await new_chat(app, api_key)
    client = app.test_client()
    path = f"/api/v1/chats/{chat['id']}/notes"
    created = await client.post(path, json={"body": "Asked to call back"}, headers=auth(api_key))
    assert created.status_code == 201
    note = await created.get_json()
    assert note["body"] == "Asked to call back" and note["author"] == "API key tests"
    assert note["id"].startswith("nt_") and note["erased_at"] is None

    listed = await (await client.get(path, headers=auth(api_key))).get_json()
    assert listed == {"notes": [note]}
    transcript = await client.get(f"/api/v1/chats/{chat['id']}/messages", headers=auth(api_key))
    assert "Asked to call back" not in await transcript.get_data(as_text=True)
    [entry] = await rows_of(app_runtime, AuditEvent, AuditEvent.action == "note.add")
    assert entry.actor.startswith("api_key:") and entry.detail == {"note": note["id"]}


async def test_bad_notes_get_a_json_error_that_says_why(app: Quart, api_key: str) -> None:
    chat = await new_chat(app, api_key)
    client = app.test_client()
    path = f"/api/v1/chats/{chat['id']}/notes"
    empty = await client.post(path, json={"body": ""}, headers=auth(api_key))
    assert empty.status_code == 422
    error = (await empty.get_json())["error"]
    assert (error["code"], error["field"]) == ("invalid_note", "body")
    assert "empty" in error["message"]
    extra = await client.post(path, json={"body": "x", "to": "all"}, headers=auth(api_key))
    assert extra.status_code == 400 and "error" in await extra.get_json()
    unknown = await client.get("/api/v1/chats/ch_nope/notes", headers=auth(api_key))
    assert unknown.status_code == 404 and "error" in await unknown.get_json()
    anonymous = await client.get(path)
    assert anonymous.status_code == 401 and "error" in await anonymous.get_json()


async def test_a_retried_post_with_an_idempotency_key_keeps_one_note(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat = await new_chat(app, api_key)
    client = app.test_client()
    path = f"/api/v1/chats/{chat['id']}/notes"
    headers = {**auth(api_key), "Idempotency-Key": "note-1"}
    first = await client.post(path, json={"body": "Call back at 5"}, headers=headers)
    again = await client.post(path, json={"body": "Call back at 5"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert await first.get_json() == await again.get_json()
    assert len(await rows_of(app_runtime, ChatNote)) == 1
    other = await client.post(path, json={"body": "Something else"}, headers=headers)
    assert other.status_code == 422 and "error" in await other.get_json()

"""Held texts through the API: the transcript shows them, release and reject decide."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from smsproxy.config import Settings
from tests.conftest import make_settings
from tests.helpers import add_numbers, auth

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
LEAK = "my email is jo.bloggs@gmail.com"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, contact_policy="hold")


async def held(app: Quart, key: str) -> tuple[str, dict[str, Any]]:
    """A chat whose transcript holds Alice's text with her e-mail address in it."""
    client = app.test_client()
    await add_numbers(app.extensions["smsproxy"], P1)
    people = {"participants": [{"number": ALICE}, {"number": BOB}], "intro": False}
    chat = await (await client.post("/api/v1/chats", json=people, headers=auth(key))).get_json()
    form = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": "IN-1", "text": LEAK}
    assert (await client.post("/webhooks/inbound-sms", form=form)).status_code == 204
    transcript = await client.get(f"/api/v1/chats/{chat['id']}/messages", headers=auth(key))
    [message] = (await transcript.get_json())["messages"]
    return chat["id"], message


async def test_the_transcript_shows_a_held_text_to_staff(app: Quart, api_key: str) -> None:
    _, message = await held(app, api_key)

    assert message["body"] == LEAK
    assert (message["screening"], message["screening_note"]) == ("held", "an e-mail address")
    assert message["deliveries"] == []
    assert message["forwarded_cut"] is False and message["erased_at"] is None


async def test_release_forwards_it(app: Quart, api_key: str) -> None:
    chat_id, message = await held(app, api_key)

    response = await app.test_client().post(
        f"/api/v1/chats/{chat_id}/messages/{message['id']}/release", headers=auth(api_key)
    )

    assert response.status_code == 200
    released = await response.get_json()
    assert released["screening"] == "released"
    [delivery] = released["deliveries"]
    assert (delivery["to"], delivery["status"]) == ("+44770•••••02", "queued")


async def test_reject_then_release_is_a_conflict(app: Quart, api_key: str) -> None:
    chat_id, message = await held(app, api_key)
    base = f"/api/v1/chats/{chat_id}/messages/{message['id']}"
    client = app.test_client()

    rejected = await client.post(f"{base}/reject", headers=auth(api_key))
    again = await client.post(f"{base}/release", headers=auth(api_key))

    assert rejected.status_code == 200
    assert (await rejected.get_json())["screening"] == "rejected"
    assert again.status_code == 409
    error = (await again.get_json())["error"]
    assert error["code"] == "conflict" and "already rejected" in error["message"]


async def test_unknown_ids_are_404(app: Quart, api_key: str) -> None:
    chat_id, _ = await held(app, api_key)
    client = app.test_client()

    unknown_message = await client.post(
        f"/api/v1/chats/{chat_id}/messages/msg_nope/release", headers=auth(api_key)
    )
    unknown_chat = await client.post(
        "/api/v1/chats/ch_nope/messages/msg_nope/reject", headers=auth(api_key)
    )

    assert (unknown_message.status_code, unknown_chat.status_code) == (404, 404)
    assert (await unknown_message.get_json())["error"]["code"] == "not_found"

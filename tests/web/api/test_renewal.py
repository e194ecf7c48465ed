"""Reopen and extend through the API: POST /chats/{id}/reopen and /chats/{id}/extend."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from quart import Quart

from smsproxy.db import utcnow
from tests.helpers import add_numbers, two_people
from tests.web.api.test_chat_changes import Api

P1 = "+447700900901"
RIDER, DRIVER, GUEST = "+447700900001", "+447700900002", "+447700900003"


@pytest.fixture
async def api(app: Quart, api_key: str) -> Api:
    await add_numbers(app.extensions["smsproxy"], P1)
    return Api(app, api_key)


async def test_reopen_a_closed_chat(api: Api) -> None:
    chat = await api.chat()
    status, closed = await api.call("POST", f"/chats/{chat['id']}/close", {"goodbye": False})
    assert status == 200 and closed["status"] == "closed"
    status, body = await api.call("POST", f"/chats/{chat['id']}/reopen")
    assert status == 200, body
    assert body["status"] == "active" and body["closed_at"] is None
    assert [(p["proxy_number"], p["active"]) for p in body["participants"]] == [(P1, True)] * 2
    status, body = await api.call("POST", f"/chats/{chat['id']}/reopen")
    assert status == 409 and "is active already" in body["error"]["message"]


async def test_reopen_says_whose_route_is_taken(api: Api) -> None:
    chat = await api.chat()
    await api.call("POST", f"/chats/{chat['id']}/close", {"goodbye": False})
    status, other = await api.call("POST", "/chats", two_people(GUEST, RIDER))
    assert status == 201
    status, body = await api.call("POST", f"/chats/{chat['id']}/reopen")
    assert status == 409, body
    message = body["error"]["message"]
    assert "Participant 1 (Rider, +44770•••••01)" in message and other["id"] in message
    assert RIDER not in str(body)


async def test_reopen_with_a_new_expiry_and_bad_bodies(api: Api) -> None:
    chat = await api.chat()
    await api.call("POST", f"/chats/{chat['id']}/close", {"goodbye": False})
    status, body = await api.call("POST", f"/chats/{chat['id']}/reopen", {"expires_at": "soon"})
    assert status == 400, body
    later = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    status, body = await api.call(
        "POST", f"/chats/{chat['id']}/reopen", {"expires_at": later.isoformat()}
    )
    assert status == 200, body
    assert datetime.fromisoformat(body["expires_at"]) == later
    status, body = await api.call("POST", "/chats/ch_nothing/reopen")
    assert status == 404 and body["error"]["code"]


async def test_extend_by_a_day_then_set_the_idle_limit(api: Api) -> None:
    start = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    chat = await api.chat(expires_at=start.isoformat(), ttl_seconds=600)
    path = f"/chats/{chat['id']}/extend"
    status, body = await api.call("POST", path, {"by_seconds": 86400})
    assert status == 200, body
    assert datetime.fromisoformat(body["expires_at"]) == start + timedelta(days=1)
    assert body["ttl_seconds"] == 600
    status, body = await api.call("POST", path, {"ttl_seconds": None})
    assert status == 200 and body["ttl_seconds"] is None
    status, body = await api.call("POST", path, {"ttl_seconds": 7200})
    assert status == 200 and body["ttl_seconds"] == 7200


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, "Say how to extend"),
        ({"by_seconds": 5}, 400, ""),
        ({"hours": 1}, 400, ""),
        ({"expires_at": "2001-01-01T00:00:00Z"}, 422, "in the past"),
    ],
)
async def test_extend_refuses_bad_bodies(
    api: Api, body: dict[str, object], status: int, words: str
) -> None:
    chat = await api.chat()
    got, answer = await api.call("POST", f"/chats/{chat['id']}/extend", body)
    assert got == status, answer
    assert words in answer["error"]["message"]


async def test_extend_needs_an_expiry_to_add_to_and_a_live_chat(api: Api) -> None:
    chat = await api.chat()
    path = f"/chats/{chat['id']}/extend"
    status, body = await api.call("POST", path, {"by_seconds": 3600})
    assert status == 409 and "has no expiry to extend" in body["error"]["message"]
    await api.call("POST", f"/chats/{chat['id']}/close", {"goodbye": False})
    status, body = await api.call("POST", path, {"ttl_seconds": 600})
    assert status == 409 and "reopen it first" in body["error"]["message"]

"""Changing live chats through the API: PATCH a chat's terms and metadata, add and
remove participants, read the unrouted inbox, relabel and disable numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import col, select

from smsproxy.carrier import InboundSms
from smsproxy.db import utcnow
from smsproxy.models import Delivery, DeliveryKind, Participant
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth, two_people

P1, P2 = "+447700900901", "+447700900902"
RIDER, DRIVER, HELPER = "+447700900001", "+447700900002", "+447700900003"


class Api:
    def __init__(self, app: Quart, key: str) -> None:
        self.client: Client = app.test_client()
        self.headers = auth(key)
        self.rt: Runtime = app.extensions["smsproxy"]

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
        **query: str,
    ) -> tuple[int, Any]:  # fmt: skip
        kwargs: dict[str, Any] = {
            "headers": {**self.headers, **(headers or {})},
            "query_string": query,
        }
        if body is not None:
            kwargs["json"] = body
        response = await self.client.open(f"/api/v1{path}", method=method, **kwargs)
        text = await response.get_data(as_text=True)
        return response.status_code, (await response.get_json() if text else None)

    async def chat(self, **extra: Any) -> dict[str, Any]:
        status, chat = await self.call("POST", "/chats", {**two_people(RIDER, DRIVER), **extra})
        assert status == 201, chat
        return dict(chat)


@pytest.fixture
async def api(app: Quart, api_key: str) -> Api:
    await add_numbers(app.extensions["smsproxy"], P1, P2)
    return Api(app, api_key)


async def test_patch_changes_only_what_is_sent(api: Api) -> None:
    chat = await api.chat(reference="booking-1", metadata={"driver": 7})
    assert chat["metadata"] == {"driver": 7}
    path = f"/chats/{chat['id']}"
    expiry = (utcnow() + timedelta(hours=2)).isoformat()
    status, changed = await api.call(
        "PATCH", path, {"ttl_seconds": 600, "expires_at": expiry, "metadata": {"trip": "T-9"}}
    )
    assert status == 200
    assert (changed["reference"], changed["ttl_seconds"]) == ("booking-1", 600)
    assert changed["metadata"] == {"trip": "T-9"} and changed["expires_at"].startswith(expiry[:16])
    status, cleared = await api.call("PATCH", path, {"reference": None, "ttl_seconds": None})
    assert (cleared["reference"], cleared["ttl_seconds"]) == (None, None)
    assert cleared["metadata"] == {"trip": "T-9"}  # not sent: kept
    assert (await api.call("PATCH", path, {}))[1]["metadata"] == {"trip": "T-9"}
    status, found = await api.call("GET", path)
    assert found["metadata"] == {"trip": "T-9"} and found["ttl_seconds"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"metadata": {"blob": "x" * 5000}}, 422, "metadata"),
        ({"metadata": [1, 2]}, 400, None),
        ({"ttl_seconds": 30}, 400, None),
        ({"expires_at": "2000-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, 400, None),
        ({"reference": "a\x00b"}, 422, "reference"),
        ({"colour": "blue"}, 400, None),
    ],
)
async def test_patch_refuses_bad_values(
    api: Api, body: dict[str, Any], status: int, field: str | None
) -> None:
    chat = await api.chat()
    answer, error = await api.call("PATCH", f"/chats/{chat['id']}", body)
    assert answer == status and error["error"].get("field") == field, error


async def test_a_closed_chat_keeps_its_bookkeeping_open(api: Api) -> None:
    chat = await api.chat()
    await api.call("POST", f"/chats/{chat['id']}/close", {"goodbye": False})
    status, changed = await api.call(
        "PATCH", f"/chats/{chat['id']}", {"reference": "done", "metadata": {"paid": True}}
    )
    assert (status, changed["reference"], changed["metadata"]) == (200, "done", {"paid": True})
    status, error = await api.call("PATCH", f"/chats/{chat['id']}", {"ttl_seconds": 600})
    assert (status, error["error"]["code"], error["error"]["field"]) == (
        409,
        "conflict",
        "ttl_seconds",
    )
    status, error = await api.call("PATCH", "/chats/ch_nope", {"reference": "x"})
    assert status == 404


async def intro_sent_to(rt: Runtime, participant_id: int) -> list[Delivery]:
    async with rt.db.read() as session:
        query = select(Delivery).where(
            col(Delivery.participant_id) == participant_id, col(Delivery.kind) == DeliveryKind.intro
        )
        return list((await session.exec(query)).all())


async def test_add_a_participant_with_a_number_and_an_intro(api: Api) -> None:
    chat = await api.chat(intro=False)
    path = f"/chats/{chat['id']}/participants"
    status, added = await api.call("POST", path, {"number": HELPER, "name": "Helper"})
    assert status == 201
    assert added["number"] == "+44770•••••03" and added["active"] and added["name"] == "Helper"
    # The chat's own number first: everyone texts the same one.
    assert added["proxy_number"] == chat["participants"][0]["proxy_number"]
    async with api.rt.db.read() as session:
        row = (
            await session.exec(select(Participant).where(Participant.public_id == added["id"]))
        ).one()
    assert row.id is not None
    [intro] = await intro_sent_to(api.rt, row.id)
    assert intro.to_number == HELPER and "Rider" in intro.body and "Driver" in intro.body

    status, found = await api.call("GET", f"/chats/{chat['id']}")
    assert [p["name"] for p in found["participants"]] == ["Rider", "Driver", "Helper"]
    # A group now: what the rider writes reaches both, named.
    rider = found["participants"][0]
    await text_from_handset(api.rt.db, api.rt.routing, RIDER, rider["proxy_number"], "Hi all")
    async with api.rt.db.read() as session:
        forwards = (
            await session.exec(select(Delivery).where(Delivery.kind == DeliveryKind.forward))
        ).all()
    assert sorted(d.to_number for d in forwards) == [DRIVER, HELPER]
    assert {d.body for d in forwards} == {"Rider: Hi all"}


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"number": RIDER}, 409, "conflict", "number"),
        ({"number": P1}, 422, "invalid_chat", "number"),
        ({"number": "12"}, 422, "invalid_number", "number"),
        ({"number": HELPER, "name": "a\x01"}, 422, "invalid_chat", "name"),
        ({"name": "No number"}, 400, "invalid_request", None),
    ],
)
async def test_add_refuses_with_the_reason(
    api: Api, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    chat = await api.chat()
    answer, error = await api.call("POST", f"/chats/{chat['id']}/participants", body)
    assert (answer, error["error"]["code"], error["error"].get("field")) == (status, code, field)


async def test_add_is_refused_when_no_number_is_free_or_the_chat_is_closed(api: Api) -> None:
    chat = await api.chat()
    other = await api.call("POST", "/chats", two_people(HELPER, "+447700900004"))
    assert other[0] == 201
    await api.call("POST", "/chats", two_people(HELPER, "+447700900005"))
    # The helper now has a chat on both pool numbers: none is free for them here.
    status, error = await api.call("POST", f"/chats/{chat['id']}/participants", {"number": HELPER})
    assert (status, error["error"]["code"]) == (409, "pool_exhausted")

    await api.call("POST", f"/chats/{chat['id']}/close", {"goodbye": False})
    status, error = await api.call(
        "POST", f"/chats/{chat['id']}/participants", {"number": "+447700900006"}
    )
    assert status == 409 and "is closed" in error["error"]["message"]


async def test_add_honours_idempotency_keys(api: Api) -> None:
    chat = await api.chat()
    path = f"/chats/{chat['id']}/participants"
    key = {"Idempotency-Key": "add-helper-1"}
    first = await api.call("POST", path, {"number": HELPER}, headers=key)
    again = await api.call("POST", path, {"number": HELPER}, headers=key)
    assert first == again and first[0] == 201


async def test_remove_frees_the_route_and_keeps_two(api: Api) -> None:
    chat = await api.chat(intro=False)
    path = f"/chats/{chat['id']}/participants"
    _, helper = await api.call("POST", path, {"number": HELPER, "intro": False})
    assert (await api.call("DELETE", f"{path}/{helper['id']}"))[0] == 204
    status, found = await api.call("GET", f"/chats/{chat['id']}")
    assert [p["active"] for p in found["participants"]] == [True, True, False]

    # The helper's texts to that number no longer reach the chat.
    outcome = await text_from_handset(
        api.rt.db, api.rt.routing, HELPER, helper["proxy_number"], "Still here?"
    )
    assert outcome.route == "unrouted"
    status, error = await api.call("DELETE", f"{path}/{helper['id']}")
    assert status == 409 and "left this chat already" in error["error"]["message"]
    rider = found["participants"][0]["id"]
    status, error = await api.call("DELETE", f"{path}/{rider}")
    assert status == 409 and "at least 2" in error["error"]["message"]
    status, error = await api.call("DELETE", f"{path}/pt_nope")
    assert status == 404
    # Back in, on a free route.
    assert (await api.call("POST", path, {"number": HELPER, "intro": False}))[0] == 201


async def test_the_unrouted_inbox_pages_with_masked_senders(api: Api) -> None:
    for i in range(3):
        await text_from_handset(api.rt.db, api.rt.routing, f"+4477009005{i:02d}", P1, f"hello {i}")
    async with api.rt.db.transaction() as session:
        await receive_sms(session, InboundSms("MyBank", P1, "BANK-1", "Your code"), api.rt.routing)
    status, page = await api.call("GET", "/unrouted", limit="3")
    assert status == 200 and page["next_cursor"]
    assert [m["text"] for m in page["messages"]] == ["Your code", "hello 2", "hello 1"]
    assert page["messages"][0]["sender"] == "MyBank"
    assert page["messages"][1]["sender"] == "+44770•••••02"
    assert page["messages"][1]["proxy_number"] == P1
    status, rest = await api.call("GET", "/unrouted", limit="3", cursor=page["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["hello 0"] and rest["next_cursor"] is None
    status, error = await api.call("GET", "/unrouted", cursor="!!")
    assert (status, error["error"]["field"]) == (422, "cursor")
    assert (await api.call("GET", "/unrouted", limit="0"))[0] == 400


async def test_patch_a_number(api: Api) -> None:
    status, number = await api.call("PATCH", "/numbers/+447700900901", {"label": " Drivers "})
    assert (status, number["label"], number["enabled"]) == (200, "Drivers", True)
    status, number = await api.call("PATCH", "/numbers/%2B447700900901", {"enabled": False})
    assert (status, number["enabled"], number["label"]) == (200, False, "Drivers")
    chat = await api.chat()  # only the other number is left for new chats
    assert {p["proxy_number"] for p in chat["participants"]} == {P2}
    status, number = await api.call("PATCH", f"/numbers/{P2}", {"enabled": False})
    assert (number["active_chats"], number["active_routes"]) == (1, 2)
    status, error = await api.call("PATCH", "/numbers/+447700900999", {"enabled": True})
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, error = await api.call("PATCH", f"/numbers/{P1}", {"label": "x\x00"})
    assert (status, error["error"].get("field")) == (422, "label")
    assert (await api.call("PATCH", f"/numbers/{P1}", {"label": "x" * 101}))[0] == 400

"""POST/GET /api/v1/chats: create, list, read, transcript, close, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import col, func, select

from smsproxy.app import create_app
from smsproxy.models import Chat, Delivery, DeliveryKind
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import add_numbers, auth, create_api_key, two_people

PROXY = "+447700900901"
RIDER, DRIVER = "+447700900001", "+447700900002"
CREATED_FIELDS = {
    "id",
    "status",
    "reference",
    "created_at",
    "last_activity_at",
    "expires_at",
    "ttl_seconds",
    "closed_at",
    "metadata",
    "close_reason",
    "participants",
}


class Api:
    """The test client with the key already in the header."""

    def __init__(self, app: Quart, key: str) -> None:
        self.client: Client = app.test_client()
        self.headers = auth(key)
        self.rt: Runtime = app.extensions["smsproxy"]

    async def post(self, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs["json"] = body
        response = await self.client.post(f"/api/v1{path}", **kwargs)
        return response.status_code, await response.get_json()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        response = await self.client.get(
            f"/api/v1{path}", headers=self.headers, query_string=params
        )
        return response.status_code, await response.get_json()

    async def deliveries(self, kind: DeliveryKind) -> list[Delivery]:
        async with self.rt.db.read() as session:
            query = select(Delivery).where(Delivery.kind == kind).order_by(col(Delivery.id))
            return list((await session.exec(query)).all())

    async def chat_count(self) -> int:
        async with self.rt.db.read() as session:
            return int((await session.exec(select(func.count()).select_from(Chat))).one())


@pytest.fixture
async def api(app: Quart, api_key: str) -> Api:
    await add_numbers(app.extensions["smsproxy"], PROXY)
    return Api(app, api_key)


def people(i: int) -> dict[str, Any]:
    return two_people(f"+4477009003{i:02d}", f"+4477009004{i:02d}")


async def test_create_answers_201_with_masked_numbers(api: Api) -> None:
    body = {
        **two_people(RIDER, "+44 (0)7700 900002"),
        "reference": "booking-42",
        "ttl_seconds": 3600,
    }
    status, chat = await api.post("/chats", body)
    assert status == 201
    assert set(chat) == CREATED_FIELDS
    assert chat["id"].startswith("ch_")
    assert (chat["status"], chat["reference"], chat["ttl_seconds"]) == (
        "active",
        "booking-42",
        3600,
    )
    assert chat["closed_at"] is None and chat["close_reason"] is None
    assert [
        (p["name"], p["number"], p["proxy_number"], p["channel"], p["active"])
        for p in chat["participants"]
    ] == [
        ("Rider", "+44770•••••01", PROXY, "sms", True),
        ("Driver", "+44770•••••02", PROXY, "sms", True),
    ]
    assert all(p["id"].startswith("pt_") for p in chat["participants"])


async def test_numbers_in_national_format_with_a_default_region(database_url: str) -> None:
    app = create_app(make_settings(database_url, default_region="GB"), background=False)
    async with app.test_app():
        rt: Runtime = app.extensions["smsproxy"]
        await add_numbers(rt, PROXY)
        api = Api(app, await create_api_key(rt))
        status, chat = await api.post("/chats", two_people("07700 900001", "447700900002"))
    assert status == 201
    assert [p["number"] for p in chat["participants"]] == ["+44770•••••01", "+44770•••••02"]


async def test_create_needs_no_names(api: Api) -> None:
    status, chat = await api.post(
        "/chats", {"participants": [{"number": RIDER}, {"number": DRIVER}]}
    )
    assert status == 201
    assert [p["name"] for p in chat["participants"]] == ["Participant 1", "Participant 2"]


async def test_intro_sms_is_queued_by_default(api: Api) -> None:
    status, _ = await api.post("/chats", two_people(RIDER, DRIVER))
    assert status == 201
    intros = await api.deliveries(DeliveryKind.intro)
    assert [(d.to_number, d.from_number, d.status) for d in intros] == [
        (RIDER, PROXY, "queued"),
        (DRIVER, PROXY, "queued"),
    ]
    assert "Driver" in intros[0].body and "Rider" in intros[1].body


async def test_no_intro_when_asked(api: Api) -> None:
    status, _ = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    assert status == 201
    assert await api.deliveries(DeliveryKind.intro) == []


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    body = {**two_people(RIDER, DRIVER), "reference": "b-1"}
    first = await api.client.post(
        "/api/v1/chats", json=body, headers={**api.headers, "Idempotency-Key": "k-1"}
    )
    again = await api.client.post(
        "/api/v1/chats", json=body, headers={**api.headers, "Idempotency-Key": "k-1"}
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert await again.get_json() == await first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await api.chat_count() == 1
    assert len(await api.deliveries(DeliveryKind.intro)) == 2


async def test_idempotency_key_with_another_body_is_refused(api: Api) -> None:
    status, _ = await api.post("/chats", two_people(RIDER, DRIVER), **{"Idempotency-Key": "k-2"})
    assert status == 201
    status, error = await api.post(
        "/chats", {**two_people(RIDER, DRIVER), "reference": "other"}, **{"Idempotency-Key": "k-2"}
    )
    assert status == 422
    assert error["error"]["code"] == "invalid_request"
    assert "already used with a different request body" in error["error"]["message"]
    assert await api.chat_count() == 1


async def test_idempotency_keys_belong_to_one_api_key(api: Api, app: Quart) -> None:
    other = Api(app, await create_api_key(api.rt, "other"))
    await add_numbers(api.rt, "+447700900902")
    one = await api.post("/chats", two_people(RIDER, DRIVER), **{"Idempotency-Key": "same"})
    two = await other.post("/chats", two_people(RIDER, DRIVER), **{"Idempotency-Key": "same"})
    assert (one[0], two[0]) == (201, 201)
    assert one[1]["id"] != two[1]["id"]
    assert await api.chat_count() == 2


@pytest.mark.parametrize("key", ["   ", "k" * 201])
async def test_unusable_idempotency_keys(api: Api, key: str) -> None:
    status, error = await api.post("/chats", two_people(RIDER, DRIVER), **{"Idempotency-Key": key})
    assert status == 422
    assert error["error"]["code"] == "invalid_request"
    assert error["error"]["message"] == "Idempotency-Key must be 1 to 200 characters"
    assert error["error"]["field"] == "Idempotency-Key"
    assert await api.chat_count() == 0


async def test_list_pages_filters_and_never_repeats(api: Api) -> None:
    ids = []
    for i in range(7):
        status, chat = await api.post(
            "/chats", {**people(i), "reference": f"r{i % 2}", "intro": False}
        )
        assert status == 201
        ids.append(chat["id"])
    await api.post(f"/chats/{ids[2]}/close", {"goodbye": False})

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page = await api.get("/chats", **params)
        assert status == 200
        assert len(page["chats"]) <= 3
        seen.extend(c["id"] for c in page["chats"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert pages == 3

    _, closed = await api.get("/chats", status="closed")
    assert [c["id"] for c in closed["chats"]] == [ids[2]]
    assert closed["next_cursor"] is None
    _, active = await api.get("/chats", status="active")
    assert len(active["chats"]) == 6
    _, r1 = await api.get("/chats", reference="r1")
    assert [c["id"] for c in r1["chats"]] == [ids[5], ids[3], ids[1]]
    _, r0_active = await api.get("/chats", reference="r0", status="active")
    assert [c["id"] for c in r0_active["chats"]] == [ids[6], ids[4], ids[0]]
    _, nothing = await api.get("/chats", reference="no-such")
    assert nothing == {"chats": [], "next_cursor": None}


async def test_get_one_chat(api: Api) -> None:
    _, created = await api.post("/chats", {**two_people(RIDER, DRIVER), "reference": "x"})
    status, chat = await api.get(f"/chats/{created['id']}")
    assert status == 200
    assert chat == created


async def test_messages_show_the_intro_and_its_deliveries(api: Api) -> None:
    _, chat = await api.post("/chats", two_people(RIDER, DRIVER))
    status, page = await api.get(f"/chats/{chat['id']}/messages")
    assert status == 200
    [message] = page["messages"]
    assert message["author_kind"] == "system"
    assert message["participant_id"] is None
    assert [(d["kind"], d["to"], d["from_number"], d["status"]) for d in message["deliveries"]] == [
        ("intro", "+44770•••••01", PROXY, "queued"),
        ("intro", "+44770•••••02", PROXY, "queued"),
    ]


async def test_messages_of_a_new_chat_without_intro_are_empty(api: Api) -> None:
    _, chat = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    assert await api.get(f"/chats/{chat['id']}/messages") == (200, {"messages": []})


async def test_close_without_a_body_says_goodbye(api: Api) -> None:
    _, chat = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    status, closed = await api.post(f"/chats/{chat['id']}/close")
    assert status == 200
    assert (closed["status"], closed["close_reason"]) == ("closed", "api")
    assert closed["closed_at"] is not None
    assert [p["active"] for p in closed["participants"]] == [False, False]
    goodbyes = await api.deliveries(DeliveryKind.goodbye)
    assert [(d.to_number, d.from_number) for d in goodbyes] == [(RIDER, PROXY), (DRIVER, PROXY)]


@pytest.mark.parametrize(("goodbye", "sent"), [(True, 2), (False, 0)])
async def test_close_with_a_body(api: Api, goodbye: bool, sent: int) -> None:
    _, chat = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    status, closed = await api.post(f"/chats/{chat['id']}/close", {"goodbye": goodbye})
    assert (status, closed["status"]) == (200, "closed")
    assert len(await api.deliveries(DeliveryKind.goodbye)) == sent


async def test_closing_twice_is_harmless(api: Api) -> None:
    _, chat = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    _, first = await api.post(f"/chats/{chat['id']}/close")
    status, second = await api.post(f"/chats/{chat['id']}/close")
    assert status == 200
    assert second == first
    assert len(await api.deliveries(DeliveryKind.goodbye)) == 2


async def test_closing_frees_the_routes_for_the_next_chat(api: Api) -> None:
    _, chat = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    status, refused = await api.post("/chats", two_people(RIDER, "+447700900003"))
    assert status == 409
    assert refused["error"]["code"] == "pool_exhausted"
    await api.post(f"/chats/{chat['id']}/close", {"goodbye": False})
    status, again = await api.post("/chats", two_people(RIDER, "+447700900003"))
    assert status == 201
    assert again["participants"][0]["proxy_number"] == PROXY


async def test_close_with_a_null_body_takes_the_defaults(api: Api) -> None:
    _, chat = await api.post("/chats", {**two_people(RIDER, DRIVER), "intro": False})
    response = await api.client.post(
        f"/api/v1/chats/{chat['id']}/close",
        data="null",
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert (await response.get_json())["status"] == "closed"
    assert len(await api.deliveries(DeliveryKind.goodbye)) == 2

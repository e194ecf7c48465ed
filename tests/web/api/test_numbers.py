"""/api/v1/numbers: the pool through the API."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.helpers import auth, two_people

GB1, GB2 = "+447700900901", "+447700900902"
NUMBER_FIELDS = {
    "number",
    "country",
    "label",
    "enabled",
    "active_chats",
    "active_routes",
    "created_at",
}


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


async def call(client: Client, key: str, method: str, path: str, body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"headers": auth(key)}
    if body is not None:
        kwargs["json"] = body
    response = await getattr(client, method)(f"/api/v1{path}", **kwargs)
    data = await response.get_data(as_text=True)
    return response.status_code, (await response.get_json() if data else None)


async def test_add_and_list_numbers(client: Client, api_key: str) -> None:
    assert await call(client, api_key, "get", "/numbers") == (200, {"numbers": []})
    status, added = await call(
        client, api_key, "post", "/numbers", {"number": "+1 (202) 555-0901", "label": "US"}
    )
    assert status == 201
    assert set(added) == NUMBER_FIELDS
    assert (added["number"], added["country"], added["label"], added["enabled"]) == (
        "+12025550901",
        "US",
        "US",
        True,
    )
    await call(client, api_key, "post", "/numbers", {"number": "447700900901"})
    status, listed = await call(client, api_key, "get", "/numbers")
    assert status == 200
    assert [(n["number"], n["country"], n["active_chats"]) for n in listed["numbers"]] == [
        ("+12025550901", "US", 0),
        (GB1, "GB", 0),
    ]


async def test_the_list_shows_the_load(client: Client, api_key: str) -> None:
    for number in (GB1, GB2):
        await call(client, api_key, "post", "/numbers", {"number": number})
    body = {
        "participants": [{"number": f"+44770090010{i}"} for i in range(3)],
        "intro": False,
    }
    assert (await call(client, api_key, "post", "/chats", body))[0] == 201
    assert (await call(client, api_key, "post", "/chats", two_people()))[0] == 201
    _, listed = await call(client, api_key, "get", "/numbers")
    load = {n["number"]: (n["active_chats"], n["active_routes"]) for n in listed["numbers"]}
    assert load == {GB1: (1, 3), GB2: (1, 2)}


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"number": "not a number"}, 422, "invalid_number", "not part of a phone number"),
        ({"number": "07700 900901"}, 422, "invalid_number", "has no country code"),
        ({"number": GB1, "colour": "red"}, 400, "invalid_request", "colour: is not a known field"),
        ({"number": 447700900901}, 400, "invalid_request", "number"),
        ({}, 400, "invalid_request", "number"),
        ({"number": GB1, "label": "x" * 101}, 400, "invalid_request", "label"),
    ],
)
async def test_bad_numbers_are_refused(
    client: Client, api_key: str, body: dict[str, Any], status: int, code: str, words: str
) -> None:
    answer = await call(client, api_key, "post", "/numbers", body)
    assert answer[0] == status
    assert answer[1]["error"]["code"] == code
    assert words in answer[1]["error"]["message"]
    assert (await call(client, api_key, "get", "/numbers"))[1] == {"numbers": []}


async def test_a_number_is_in_the_pool_once(client: Client, api_key: str) -> None:
    await call(client, api_key, "post", "/numbers", {"number": GB1})
    status, error = await call(client, api_key, "post", "/numbers", {"number": "0044 7700 900901"})
    assert status == 409
    assert error["error"] == {
        "code": "conflict",
        "message": f"{GB1} is already in the pool",
        "field": "number",
    }


async def test_a_participants_number_cannot_join_the_pool(client: Client, api_key: str) -> None:
    await call(client, api_key, "post", "/numbers", {"number": GB1})
    await call(client, api_key, "post", "/chats", two_people())
    status, error = await call(client, api_key, "post", "/numbers", {"number": "+447700900001"})
    assert status == 409
    assert "a person's own number cannot be a proxy number" in error["error"]["message"]


async def test_delete_a_number(client: Client, api_key: str) -> None:
    await call(client, api_key, "post", "/numbers", {"number": GB1})
    await call(client, api_key, "post", "/numbers", {"number": GB2})
    assert await call(client, api_key, "delete", f"/numbers/{GB1}") == (204, None)
    assert await call(client, api_key, "delete", "/numbers/447700900902") == (204, None)
    assert (await call(client, api_key, "get", "/numbers"))[1] == {"numbers": []}


async def test_a_number_carrying_chats_is_not_deleted(client: Client, api_key: str) -> None:
    await call(client, api_key, "post", "/numbers", {"number": GB1})
    _, chat = await call(client, api_key, "post", "/chats", two_people())
    status, error = await call(client, api_key, "delete", f"/numbers/{GB1}")
    assert status == 409
    assert error["error"]["code"] == "conflict"
    assert f"{GB1} carries 1 active chat:" in error["error"]["message"]
    assert (await call(client, api_key, "get", "/numbers"))[1]["numbers"][0]["number"] == GB1

    await call(client, api_key, "post", f"/chats/{chat['id']}/close", {"goodbye": False})
    assert (await call(client, api_key, "delete", f"/numbers/{GB1}"))[0] == 204


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [(f"/numbers/{GB2}", 404, "not_found"), ("/numbers/nonsense", 422, "invalid_number")],
)
async def test_delete_unknown_or_invalid(
    client: Client, api_key: str, path: str, status: int, code: str
) -> None:
    await call(client, api_key, "post", "/numbers", {"number": GB1})
    answer = await call(client, api_key, "delete", path)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)

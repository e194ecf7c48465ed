"""Staff messages: POST /api/v1/chats/{id}/messages, and the rule the dashboard shares."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from sqlmodel import select

from smsproxy.errors import Conflict
from smsproxy.models import AuthorKind, DeliveryKind, Message, Role, StaffUser
from smsproxy.proxy.messages import MAX_BODY_LENGTH, send_staff_message
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth

P1 = "+447700900901"
PEOPLE = {
    "participants": [
        {"number": "+447700900101", "name": "Rider"},
        {"number": "+447700900102", "name": "Driver"},
        {"number": "+447700900103", "name": "Dispatcher"},
    ],
    "intro": False,
}


async def new_chat(app: Quart, key: str) -> dict[str, Any]:
    await add_numbers(app.extensions["smsproxy"], P1)
    response = await app.test_client().post("/api/v1/chats", json=PEOPLE, headers=auth(key))
    assert response.status_code == 201
    chat: dict[str, Any] = await response.get_json()
    return chat


async def post_message(app: Quart, key: str, chat_id: str, body: Any, **headers: str) -> Any:
    return await app.test_client().post(
        f"/api/v1/chats/{chat_id}/messages", json=body, headers={**auth(key), **headers}
    )


async def test_a_message_to_everyone(app: Quart, api_key: str, app_runtime: Runtime) -> None:
    chat = await new_chat(app, api_key)

    response = await post_message(app, api_key, chat["id"], {"body": "Your ride is booked"})

    assert response.status_code == 201
    sent = await response.get_json()
    assert (sent["author_kind"], sent["participant_id"], sent["body"]) == (
        "staff",
        None,
        "Your ride is booked",
    )
    proxies = {p["number"]: p["proxy_number"] for p in chat["participants"]}
    assert sorted(d["to"] for d in sent["deliveries"]) == sorted(proxies)
    for delivery in sent["deliveries"]:
        assert delivery["from_number"] == proxies[delivery["to"]]
        assert (delivery["kind"], delivery["status"]) == (DeliveryKind.staff, "queued")

    transcript = await app.test_client().get(
        f"/api/v1/chats/{chat['id']}/messages", headers=auth(api_key)
    )
    [entry] = (await transcript.get_json())["messages"]
    assert entry["id"] == sent["id"] and entry["author_kind"] == "staff"
    async with app_runtime.db.read() as session:
        message = (await session.exec(select(Message))).one()
    assert message.staff_user_id is None


async def test_a_message_to_one_participant(app: Quart, api_key: str) -> None:
    chat = await new_chat(app, api_key)
    driver = chat["participants"][1]

    response = await post_message(app, api_key, chat["id"], {"body": "Hi", "to": driver["id"]})

    assert response.status_code == 201
    [delivery] = (await response.get_json())["deliveries"]
    assert (delivery["to"], delivery["from_number"]) == (driver["number"], driver["proxy_number"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"body": ""}, 422, "invalid_message"),
        ({"body": "   \n"}, 422, "invalid_message"),
        ({"body": "x" * (MAX_BODY_LENGTH + 1)}, 422, "invalid_message"),
        ({"body": "Hi", "to": "pt_0000000000000000"}, 404, "not_found"),
        ({"text": "Hi"}, 400, "invalid_request"),
        ({"body": "Hi", "cc": "all"}, 400, "invalid_request"),
    ],
)
async def test_bad_requests_say_why(
    app: Quart, api_key: str, app_runtime: Runtime, body: dict[str, Any], status: int, code: str
) -> None:
    chat = await new_chat(app, api_key)

    response = await post_message(app, api_key, chat["id"], body)

    assert response.status_code == status
    error = (await response.get_json())["error"]
    assert error["code"] == code and error["message"]
    async with app_runtime.db.read() as session:
        assert (await session.exec(select(Message))).all() == []


async def test_the_longest_body_is_accepted(app: Quart, api_key: str) -> None:
    chat = await new_chat(app, api_key)
    response = await post_message(app, api_key, chat["id"], {"body": "y" * MAX_BODY_LENGTH})
    assert response.status_code == 201


async def test_a_participant_of_another_chat_is_not_found(app: Quart, api_key: str) -> None:
    first = await new_chat(app, api_key)
    other = await app.test_client().post(
        "/api/v1/chats",
        json={"participants": [{"number": "+447700900201"}, {"number": "+447700900202"}]},
        headers=auth(api_key),
    )
    stranger = (await other.get_json())["participants"][0]["id"]

    response = await post_message(app, api_key, first["id"], {"body": "Hi", "to": stranger})

    assert response.status_code == 404
    assert stranger in (await response.get_json())["error"]["message"]


async def test_a_closed_chat_refuses_messages(app: Quart, api_key: str) -> None:
    chat = await new_chat(app, api_key)
    closed = await app.test_client().post(
        f"/api/v1/chats/{chat['id']}/close", json={"goodbye": False}, headers=auth(api_key)
    )
    assert closed.status_code == 200

    response = await post_message(app, api_key, chat["id"], {"body": "Still there?"})

    assert response.status_code == 409
    assert "closed" in (await response.get_json())["error"]["message"]


async def test_an_unknown_chat_is_not_found(app: Quart, api_key: str) -> None:
    response = await post_message(app, api_key, "ch_0000000000000000", {"body": "Hi"})
    assert response.status_code == 404


async def test_an_api_key_is_required(app: Quart) -> None:
    response = await app.test_client().post("/api/v1/chats/ch_x/messages", json={"body": "Hi"})
    assert response.status_code == 401


async def test_an_idempotency_key_sends_once(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat = await new_chat(app, api_key)
    body = {"body": "Once only"}

    first = await post_message(app, api_key, chat["id"], body, **{"Idempotency-Key": "k1"})
    again = await post_message(app, api_key, chat["id"], body, **{"Idempotency-Key": "k1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await first.get_json())["id"] == (await again.get_json())["id"]
    async with app_runtime.db.read() as session:
        assert len((await session.exec(select(Message))).all()) == 1


async def test_the_dashboard_records_who_wrote(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat = await new_chat(app, api_key)
    async with app_runtime.db.transaction() as session:
        user = StaffUser(username="agent1", password_hash="x", role=Role.agent)
        session.add(user)
        await session.flush()
        sent = await send_staff_message(
            session, chat["id"], "Hello from the desk", staff_user_id=user.id, actor="staff:agent1"
        )
        assert len(sent.deliveries) == 3

    async with app_runtime.db.read() as session:
        message = (await session.exec(select(Message))).one()
    assert (message.author_kind, message.staff_user_id) == (AuthorKind.staff, user.id)


async def test_the_rule_refuses_closed_chats_directly(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat = await new_chat(app, api_key)
    await app.test_client().post(f"/api/v1/chats/{chat['id']}/close", headers=auth(api_key))
    with pytest.raises(Conflict):
        async with app_runtime.db.transaction() as session:
            await send_staff_message(session, chat["id"], "Hi", staff_user_id=None, actor="t")

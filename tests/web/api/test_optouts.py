"""GET /api/v1/opt-outs and the participants' opted_out field."""

from __future__ import annotations

from quart import Quart

from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth

P1, P2 = "+447700900901", "+447700900902"
ALICE, BOB = "+447700900101", "+447700900102"


async def text(app: Quart, sender: str, to: str, body: str, mid: str) -> None:
    form = {"msisdn": sender[1:], "to": to[1:], "messageId": mid, "text": body}
    assert (await app.test_client().post("/webhooks/inbound-sms", form=form)).status_code == 204


async def test_opt_outs_are_listed_masked_newest_first(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1, P2)
    await text(app, ALICE, P1, "STOP", "S1")
    await text(app, BOB, P2, "quit", "S2")

    response = await app.test_client().get("/api/v1/opt-outs", headers=auth(api_key))

    assert response.status_code == 200
    page = await response.get_json()
    assert [(o["number"], o["keyword"], o["proxy_number"]) for o in page["opt_outs"]] == [
        ("+44770•••••02", "QUIT", P2),
        ("+44770•••••01", "STOP", P1),
    ]
    assert page["opt_outs"][0]["source"] == "keyword" and page["erased"] == 0
    assert ALICE[1:] not in str(page) and BOB[1:] not in str(page)


async def test_pages_follow_the_cursor(app: Quart, api_key: str, app_runtime: Runtime) -> None:
    await add_numbers(app_runtime, P1)
    for n in range(3):
        await text(app, f"+44770090050{n}", P1, "STOP", f"S{n}")
    client = app.test_client()

    first = await (await client.get("/api/v1/opt-outs?limit=2", headers=auth(api_key))).get_json()
    rest = await (
        await client.get(f"/api/v1/opt-outs?cursor={first['next_cursor']}", headers=auth(api_key))
    ).get_json()

    assert len(first["opt_outs"]) == 2 and len(rest["opt_outs"]) == 1
    assert rest["next_cursor"] is None
    bad = await client.get("/api/v1/opt-outs?cursor=nonsense", headers=auth(api_key))
    assert bad.status_code == 422
    assert (await bad.get_json())["error"]["field"] == "cursor"


async def test_a_chat_shows_who_opted_out(app: Quart, api_key: str, app_runtime: Runtime) -> None:
    await add_numbers(app_runtime, P1, P2)
    client = app.test_client()
    people = {"participants": [{"number": ALICE}, {"number": BOB}], "intro": False}
    chat = await (await client.post("/api/v1/chats", json=people, headers=auth(api_key))).get_json()
    assert [p["opted_out"] for p in chat["participants"]] == [False, False]

    await text(app, BOB, P2, "STOP", "S1")

    after = await client.get(f"/api/v1/chats/{chat['id']}", headers=auth(api_key))
    assert [p["opted_out"] for p in (await after.get_json())["participants"]] == [False, True]


async def test_answers_stored_before_the_field_existed_still_replay(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    """An Idempotency-Key replay of a chat created before `opted_out` was answered."""
    from sqlmodel import select

    from smsproxy.models import ApiKey, IdempotencyRecord
    from smsproxy.web.api.idempotency import _fingerprint

    body = {"participants": [{"number": ALICE, "name": ""}, {"number": BOB, "name": ""}]}
    request = {
        **body,
        "reference": None,
        "ttl_seconds": None,
        "expires_at": None,
        "intro": True,
        "metadata": None,
    }
    stored = {
        "id": "ch_0123456789abcdef",
        "status": "active",
        "reference": None,
        "created_at": "2026-01-01T00:00:00Z",
        "last_activity_at": "2026-01-01T00:00:00Z",
        "expires_at": None,
        "ttl_seconds": None,
        "closed_at": None,
        "close_reason": None,
        "participants": [
            {
                "id": "pt_1",
                "name": "P",
                "number": "+44770•••••01",
                "proxy_number": P1,
                "active": True,
            }
        ],
    }
    async with app_runtime.db.transaction() as session:
        key = (await session.exec(select(ApiKey))).one()
        assert key.id is not None
        session.add(
            IdempotencyRecord(
                api_key_id=key.id,
                key="old",
                request_hash=_fingerprint(request),
                status_code=201,
                response=stored,
            )
        )

    response = await app.test_client().post(
        "/api/v1/chats", json=body, headers={**auth(api_key), "Idempotency-Key": "old"}
    )

    assert response.status_code == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert (await response.get_json())["participants"][0]["opted_out"] is False

"""GET /api/v1/chats/{id}/transcript: the whole transcript as JSON (the /messages
answer) or CSV, numbers masked, audited; a format it does not know is a 400."""

from __future__ import annotations

import csv
import io

from quart import Quart
from sqlmodel import select

from smsproxy.models import AuditEvent
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth, start_chat

P1 = "+447700900901"
RIDER, DRIVER = "+447700900101", "+447700900102"


async def chat_with_texts(rt: Runtime) -> str:
    await add_numbers(rt, P1)
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"), intro=True)
    await text_from_handset(rt.db, rt.routing, RIDER, P1, "On my way")
    await text_from_handset(rt.db, rt.routing, DRIVER, P1, "=1+1 outside")
    return view.chat.public_id


async def test_json_is_the_messages_answer_whole(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat_id = await chat_with_texts(app_runtime)
    client = app.test_client()

    response = await client.get(f"/api/v1/chats/{chat_id}/transcript", headers=auth(api_key))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert f'filename="smsproxy-chat-{chat_id}.json"' in response.headers["Content-Disposition"]
    exported = await response.get_json()
    messages = await (
        await client.get(f"/api/v1/chats/{chat_id}/messages", headers=auth(api_key))
    ).get_json()
    assert exported == messages
    assert [m["author_kind"] for m in exported["messages"]] == ["system", *["participant"] * 2]
    assert [m["body"] for m in exported["messages"]][1:] == ["On my way", "=1+1 outside"]

    same = await client.get(
        f"/api/v1/chats/{chat_id}/transcript?format=json", headers=auth(api_key)
    )
    assert await same.get_json() == exported


async def test_csv_has_a_row_per_message_with_numbers_masked(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat_id = await chat_with_texts(app_runtime)

    response = await app.test_client().get(
        f"/api/v1/chats/{chat_id}/transcript?format=csv", headers=auth(api_key)
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = await response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "time",
        "message_id",
        "direction",
        "from",
        "to",
        "body",
        "screening",
        "deliveries",
    ]
    intro, first, second = rows[1:]
    assert intro[2:5] == ["out", "System", "Rider (+44770•••••01); Driver (+44770•••••02)"]
    assert first[2:6] == ["in", "Rider (+44770•••••01)", "Driver (+44770•••••02)", "On my way"]
    assert first[7].startswith("Driver (+44770•••••02): ")
    assert first[0].endswith("Z") and first[1].startswith("msg_")
    # A text a spreadsheet would run as a formula is written as text.
    assert second[3:6] == ["Driver (+44770•••••02)", "Rider (+44770•••••01)", "'=1+1 outside"]
    for number in (RIDER, DRIVER, RIDER[1:], DRIVER[1:]):
        assert number not in body


async def test_a_bad_format_or_chat_is_a_json_error(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    chat_id = await chat_with_texts(app_runtime)
    client = app.test_client()

    response = await client.get(
        f"/api/v1/chats/{chat_id}/transcript?format=xml", headers=auth(api_key)
    )
    assert response.status_code == 400
    error = (await response.get_json())["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "format"

    missing = await client.get("/api/v1/chats/ch_nope/transcript", headers=auth(api_key))
    assert missing.status_code == 404
    assert (await missing.get_json())["error"]["code"] == "not_found"

    anonymous = await client.get(f"/api/v1/chats/{chat_id}/transcript")
    assert anonymous.status_code == 401


async def test_each_download_is_audited(app: Quart, api_key: str, app_runtime: Runtime) -> None:
    chat_id = await chat_with_texts(app_runtime)
    for format in ("csv", "json"):
        response = await app.test_client().get(
            f"/api/v1/chats/{chat_id}/transcript?format={format}", headers=auth(api_key)
        )
        assert response.status_code == 200
    async with app_runtime.db.read() as session:
        found = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "chat.export"))
        ).all()
    assert [(e.target, e.detail) for e in found] == [
        (chat_id, {"format": "csv"}),
        (chat_id, {"format": "json"}),
    ]
    assert all(e.actor.startswith("api_key:spx_") for e in found)

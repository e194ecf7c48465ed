"""The audit log: what is recorded, the admin page (filters, paging, CSV) and the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import col, select

from smsproxy.db import utcnow
from smsproxy.models import AuditEvent
from smsproxy.proxy import audit
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.helpers import add_numbers, auth, two_people

PROXY = "+447700900901"


async def entries(rt: Runtime) -> list[AuditEvent]:
    async with rt.db.read() as session:
        return list((await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all())


async def seed(rt: Runtime, *rows: tuple[str, str, str]) -> None:
    async with rt.db.transaction() as session:
        for actor, action, target in rows:
            audit.record(session, actor=actor, action=action, target=target)


async def test_the_main_actions_are_recorded_with_who_did_them(
    app: Quart, app_runtime: Runtime, staff_client: Client, api_key: str
) -> None:
    await add_numbers(app_runtime, PROXY)
    client = app.test_client()
    created = await client.post("/api/v1/chats", json=two_people(), headers=auth(api_key))
    chat_id = (await created.get_json())["id"]
    await client.post(
        f"/api/v1/chats/{chat_id}/messages", json={"body": "hi"}, headers=auth(api_key)
    )
    await csrf_post(staff_client, f"/chats/{chat_id}/messages", {"body": "Hello from staff"})
    await csrf_post(staff_client, f"/chats/{chat_id}/close", {"goodbye": "no"})
    await csrf_post(staff_client, "/staff", {"username": "carol", "role": "agent"})
    await csrf_post(staff_client, "/api-keys", {"name": "billing"})
    await csrf_post(staff_client, "/logout")

    log = [(e.actor, e.action, e.target) for e in await entries(app_runtime)]
    key = f"api_key:{api_key[:12]}"
    for expected in [
        (key, "chat.create", chat_id),
        (key, "message.send", chat_id),
        ("staff:test-admin", "message.send", chat_id),
        ("staff:test-admin", "chat.close", chat_id),
        ("staff:test-admin", "staff.create", "carol"),
        ("staff:test-admin", "staff.logout", "test-admin"),
    ]:
        assert expected in log
    assert ("staff:test-admin", "api_key.create") in [(a, b) for a, b, _ in log]
    # Nothing in the log is a message or a number.
    text = repr([(e.actor, e.action, e.target, e.detail) for e in await entries(app_runtime)])
    assert "Hello from staff" not in text and "7700900001" not in text


# The API


async def get_events(app: Quart, key: str, query: str = "") -> Any:
    response = await app.test_client().get(f"/api/v1/audit-events{query}", headers=auth(key))
    return response.status_code, await response.get_json()


async def test_the_api_filters_by_action_actor_and_target(
    app: Quart, app_runtime: Runtime, api_key: str
) -> None:
    await seed(
        app_runtime,
        ("staff:alice", "chat.close", "ch_1"),
        ("staff:bob", "chat.close", "ch_2"),
        ("staff:alice", "staff.role", "carol"),
        ("anonymous", "staff.login_failed", "alice"),
    )

    def shown(body: Any) -> list[tuple[str, str, str]]:
        return [(e["actor"], e["action"], e["target"]) for e in body["events"]]

    _, body = await get_events(app, api_key, "?action=chat.close")
    assert shown(body) == [
        ("staff:bob", "chat.close", "ch_2"),
        ("staff:alice", "chat.close", "ch_1"),
    ]
    _, body = await get_events(app, api_key, "?actor=alice")
    assert shown(body) == [
        ("staff:alice", "staff.role", "carol"),
        ("staff:alice", "chat.close", "ch_1"),
    ]
    _, body = await get_events(app, api_key, "?action=staff.")
    assert {e[1] for e in shown(body)} == {"staff.role", "staff.login_failed"}
    _, body = await get_events(app, api_key, "?target=alice&actor=anonymous")
    assert shown(body) == [("anonymous", "staff.login_failed", "alice")]


async def test_the_api_filters_by_time_and_pages(
    app: Quart, app_runtime: Runtime, api_key: str
) -> None:
    now = utcnow()
    async with app_runtime.db.transaction() as session:
        for days_ago in (3, 2, 1, 0):
            entry = audit.record(session, actor="system", action="test.tick", target=str(days_ago))
            entry.at = now - timedelta(days=days_ago)
    since = (now - timedelta(days=2, hours=1)).isoformat().replace("+00:00", "Z")
    until = (now - timedelta(hours=12)).isoformat().replace("+00:00", "Z")
    status, body = await get_events(app, api_key, f"?since={since}&until={until}")
    assert status == 200
    assert [e["target"] for e in body["events"]] == ["1", "2"]

    status, first = await get_events(app, api_key, "?action=test.tick&limit=3")
    assert [e["target"] for e in first["events"]] == ["0", "1", "2"]
    status, second = await get_events(
        app, api_key, f"?action=test.tick&limit=3&cursor={first['next_cursor']}"
    )
    assert [e["target"] for e in second["events"]] == ["3"] and second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "status"),
    [("?cursor=nonsense", 422), ("?since=yesterday", 400), ("?since=2030-01-01T00:00:00", 400)],
)
async def test_the_api_refuses_bad_filters(
    app: Quart, api_key: str, query: str, status: int
) -> None:
    answer, body = await get_events(app, api_key, query)
    assert answer == status and body["error"]["message"]


# The page


async def test_agents_cannot_see_the_log(agent_client: Client) -> None:
    assert (await agent_client.get("/audit")).status_code == 403
    assert (await agent_client.get("/audit.csv")).status_code == 403


async def test_the_page_filters_and_pages(app_runtime: Runtime, staff_client: Client) -> None:
    await seed(app_runtime, *[("staff:alice", "chat.close", f"ch_{n}") for n in range(60)])
    await seed(app_runtime, ("staff:bob", "staff.role", "carol"))

    page = await (await staff_client.get("/audit")).get_data(as_text=True)
    assert page.count('<tr id="audit-') == 50 and "staff.role" in page
    assert "Older →" in page

    filtered = await (await staff_client.get("/audit?actor=bob")).get_data(as_text=True)
    assert filtered.count('<tr id="audit-') == 1 and "carol" in filtered
    assert 'href="/audit.csv?actor=bob"' in filtered


async def test_a_bad_date_says_so(staff_client: Client) -> None:
    response = await staff_client.get("/audit?since=2030-13-01")
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert "is not a date (YYYY-MM-DD)" in html
    reversed_range = await staff_client.get("/audit?since=2030-01-02&until=2030-01-01")
    assert "The end date is before the start date" in await reversed_range.get_data(as_text=True)


async def test_the_csv_export_holds_the_filtered_rows_safely(
    app: Quart, app_runtime: Runtime, staff_client: Client
) -> None:
    # A username typed at the login form, made to run as a spreadsheet formula.
    await csrf_post(app.test_client(), "/login", {"username": "=1+1", "password": "x"})
    await seed(app_runtime, ("staff:bob", "chat.close", "ch_9"))

    response = await staff_client.get("/audit.csv?action=staff.login_failed")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.get_data(as_text=True))))
    assert rows[0] == ["id", "at", "actor", "action", "target", "detail"]
    assert [row[2:5] for row in rows[1:]] == [["anonymous", "staff.login_failed", "'=1+1"]]

    [export] = [e for e in await entries(app_runtime) if e.action == "audit.export"]
    assert export.actor == "staff:test-admin"
    assert export.detail == {"action": "staff.login_failed"}

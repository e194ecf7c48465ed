"""/api/v1/webhook-endpoints: register (the secret once), list, read, change, delete, a
test ping to a real receiver, the delivery log and resend; each error as JSON."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from standardwebhooks import Webhook

from smsproxy.models import WebhookEndpoint
from smsproxy.runtime import Runtime
from tests.fakes.receiver import Answer, Receiver
from tests.helpers import add_numbers, auth, two_people

pytest_plugins = ["tests.fakes.webhook_receiver"]

ENDPOINT_FIELDS = {
    "id",
    "url",
    "description",
    "events",
    "enabled",
    "state",
    "failing_since",
    "last_success_at",
    "disabled_at",
    "disabled_reason",
    "created_at",
    "updated_at",
}


class Api:
    def __init__(self, app: Quart, key: str) -> None:
        self.client: Client = app.test_client()
        self.headers = auth(key)
        self.rt: Runtime = app.extensions["smsproxy"]

    async def call(self, method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers, "query_string": query}
        if body is not None:
            kwargs["json"] = body
        response = await self.client.open(f"/api/v1{path}", method=method, **kwargs)
        text = await response.get_data(as_text=True)
        return response.status_code, (await response.get_json() if text else None)


@pytest.fixture
def api(app: Quart, api_key: str) -> Api:
    return Api(app, api_key)


async def register(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    status, body = await api.call(
        "POST", "/webhook-endpoints", {"url": url, "events": events or ["*"]}
    )
    assert status == 201, body
    return dict(body)


async def test_register_answers_the_secret_once(api: Api, receiver: Receiver) -> None:
    status, created = await api.call(
        "POST",
        "/webhook-endpoints",
        {
            "url": receiver.url("/a"),
            "events": ["chat.closed", "chat.created"],
            "description": "CRM",
        },
    )
    assert status == 201
    assert set(created) == ENDPOINT_FIELDS | {"secret"}
    assert created["secret"].startswith("whsec_") and created["id"].startswith("we_")
    assert created["events"] == ["chat.created", "chat.closed"]
    assert (created["state"], created["enabled"], created["description"]) == (
        "enabled",
        True,
        "CRM",
    )

    status, listing = await api.call("GET", "/webhook-endpoints")
    assert status == 200 and [e["id"] for e in listing["endpoints"]] == [created["id"]]
    assert set(listing["endpoints"][0]) == ENDPOINT_FIELDS  # no secret any more
    status, one = await api.call("GET", f"/webhook-endpoints/{created['id']}")
    assert status == 200 and one["url"] == receiver.url("/a") and "secret" not in one


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"url": "http://example.com/h", "events": ["*"]}, 422, "invalid_request", "url"),
        ({"url": "https://x.example", "events": ["chat.opened"]}, 422, "invalid_request", "events"),
        ({"url": "https://x.example", "events": []}, 400, "invalid_request", None),
        ({"url": "https://x.example"}, 400, "invalid_request", None),
        (
            {"url": "https://x.example", "events": ["*"], "secret": "mine"},
            400,
            "invalid_request",
            None,
        ),
        (
            {"url": "https://x.example", "events": ["*"], "description": "\x07"},
            422,
            "invalid_request",
            "description",
        ),
    ],
)
async def test_register_refuses_bad_bodies(
    api: Api, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    answer, error = await api.call("POST", "/webhook-endpoints", body)
    assert (answer, error["error"]["code"]) == (status, code)
    assert error["error"].get("field") == field
    assert error["error"]["message"]


async def test_change_and_delete(api: Api, receiver: Receiver) -> None:
    created = await register(api, receiver.url("/a"))
    path = f"/webhook-endpoints/{created['id']}"
    status, changed = await api.call(
        "PATCH", path, {"url": receiver.url("/b"), "events": ["message.received"], "enabled": False}
    )
    assert status == 200
    assert (changed["url"], changed["events"]) == (receiver.url("/b"), ["message.received"])
    assert changed["state"] == "disabled" and changed["disabled_reason"].startswith(
        "Disabled by api_key:"
    )
    status, enabled = await api.call("PATCH", path, {"enabled": True})
    assert (status, enabled["state"], enabled["disabled_reason"]) == (200, "enabled", None)
    status, error = await api.call("PATCH", path, {"url": "http://example.com"})
    assert status == 422 and error["error"]["field"] == "url"
    status, error = await api.call("PATCH", path, {"events": []})
    assert status == 400

    assert (await api.call("DELETE", path))[0] == 204
    for method in ("GET", "DELETE", "PATCH"):
        status, error = await api.call(method, path, {} if method == "PATCH" else None)
        assert (status, error["error"]["code"]) == (404, "not_found")
    assert (await api.call("GET", "/webhook-endpoints"))[1] == {"endpoints": []}


async def test_a_test_ping_reaches_the_endpoint_signed(api: Api, receiver: Receiver) -> None:
    created = await register(api, receiver.url("/a"))
    receiver.verify_with("/a", created["secret"])
    status, ping = await api.call("POST", f"/webhook-endpoints/{created['id']}/test")
    assert status == 200
    assert (ping["event_type"], ping["status"], ping["last_status_code"]) == (
        "ping",
        "delivered",
        204,
    )
    [attempt] = ping["recent_attempts"]
    assert (
        attempt["status_code"] == 204 and attempt["duration_ms"] >= 0 and attempt["error"] is None
    )
    [got] = receiver.received
    assert got.verified and got.headers["webhook-id"] == ping["event_id"] == ping["payload"]["id"]
    assert Webhook(created["secret"]).verify(got.body, got.headers)["type"] == "ping"

    receiver.plan("/a", Answer(503))
    status, failed = await api.call("POST", f"/webhook-endpoints/{created['id']}/test")
    assert (status, failed["status"], failed["last_status_code"]) == (200, "failed", 503)
    assert failed["last_error"] == "HTTP 503 Service Unavailable"
    status, again = await api.call("GET", f"/webhook-endpoints/{created['id']}")
    assert again["state"] == "enabled"  # a ping never counts towards disabling

    status, error = await api.call("POST", "/webhook-endpoints/we_nope/test")
    assert (status, error["error"]["code"]) == (404, "not_found")


async def test_the_delivery_log_pages_and_resends(api: Api, receiver: Receiver) -> None:
    created = await register(api, receiver.url("/a"), ["chat.created"])
    receiver.verify_with("/a", created["secret"])
    await add_numbers(api.rt, "+447700900901")
    for i in range(3):
        people = two_people(f"+4477009001{i:02d}", f"+4477009002{i:02d}")
        assert (await api.call("POST", "/chats", {**people, "intro": False}))[0] == 201
    receiver.plan("/a", Answer(400))
    await api.rt.webhook_worker.drain()
    log = f"/webhook-endpoints/{created['id']}/deliveries"

    status, page = await api.call("GET", log, limit="2")
    assert status == 200 and len(page["deliveries"]) == 2 and page["next_cursor"]
    status, rest = await api.call("GET", log, limit="2", cursor=page["next_cursor"])
    assert len(rest["deliveries"]) == 1 and rest["next_cursor"] is None
    deliveries = page["deliveries"] + rest["deliveries"]
    assert [d["payload"]["type"] for d in deliveries] == ["chat.created"] * 3
    [failed] = [d for d in deliveries if d["status"] == "failed"]
    assert failed["last_error"] == "HTTP 400 Bad Request" and failed["attempts"] == 1
    status, only_failed = await api.call("GET", log, status="failed")
    assert [d["id"] for d in only_failed["deliveries"]] == [failed["id"]]

    resend = f"{log}/{failed['id']}/resend"
    status, queued = await api.call("POST", resend)
    assert (status, queued["status"]) == (202, "queued") and queued["next_attempt_at"]
    status, error = await api.call("POST", resend)
    assert (status, error["error"]["code"]) == (409, "conflict")
    assert await api.rt.webhook_worker.drain() == 1
    status, done = await api.call("GET", log, status="delivered")
    assert failed["id"] in [d["id"] for d in done["deliveries"]]
    resent = next(d for d in done["deliveries"] if d["id"] == failed["id"])
    assert [a["status_code"] for a in resent["recent_attempts"]] == [204, 400]
    assert all(r.verified for r in receiver.received)

    status, error = await api.call("GET", log, cursor="not-ours")
    assert (status, error["error"]["field"]) == (422, "cursor")
    status, error = await api.call("GET", log, status="lost")
    assert status == 400
    status, error = await api.call("POST", f"{log}/whd_nope/resend")
    assert status == 404


async def test_resend_waits_for_a_disabled_endpoint(api: Api, receiver: Receiver) -> None:
    created = await register(api, receiver.url("/a"))
    _, ping = await api.call("POST", f"/webhook-endpoints/{created['id']}/test")
    await api.call("PATCH", f"/webhook-endpoints/{created['id']}", {"enabled": False})
    status, error = await api.call(
        "POST", f"/webhook-endpoints/{created['id']}/deliveries/{ping['id']}/resend"
    )
    assert status == 409 and "disabled: enable it first" in error["error"]["message"]


async def test_the_secret_is_stored_sealed(api: Api, receiver: Receiver) -> None:
    created = await register(api, receiver.url("/a"))
    async with api.rt.db.read() as session:
        stored = await session.get(WebhookEndpoint, 1)
    assert stored is not None and created["secret"] not in stored.secret

"""A meta-test over the whole URL map: with chats whose real numbers are known, every
page, fragment and API answer (and every live event) is scanned for those numbers in
any spelling. Only the audited reveal may show one.

A GET route added later is walked too; one with a path parameter this test cannot fill
fails it until a value is added to `values_for`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from quart import Blueprint, Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import select
from werkzeug.routing import Rule

from smsproxy.app import create_app
from smsproxy.config import Settings
from smsproxy.models import EventRecord, Message
from smsproxy.proxy.reports import CHARTS
from smsproxy.runtime import Runtime
from smsproxy.web.guards import staff_required
from tests.conftest import csrf_post, logged_in_client, make_settings
from tests.helpers import add_numbers, auth, create_api_key
from tests.privacy import spelled_in

PROXY_UK, PROXY_US = "+447700900901", "+12025550901"
RIDER = "+447700900321"
DRIVER = "+12025550147"
STRANGER = "+447700900456"  # texts a proxy number with no chat: unrouted
LEFT = "+447700900789"  # in a chat that is closed
REAL_NUMBERS = (RIDER, DRIVER, STRANGER, LEFT)

# Never walked: what they show is by design, or is no page.
NOT_WALKED = {
    "/static/<path:filename>": "files",
    "/live": "a WebSocket; its events are scanned in the event log instead",
    "/sandbox": "simulated phones (sandbox carrier only; this app runs the vonage one)",
    "/sandbox/phones": "simulated phones, likewise",
}


# Routes walked with these query strings too: searches that find the world's messages
# (by words, and by a proxy number; a real number typed stays in the search box).
QUERIES = {
    "/search": ["?q=way", "?q=outside", "?q=%2B447700900901"],
    "/api/v1/messages/search": ["?q=way", "?q=staff", "?q=%2B447700900901"],
}


@dataclass
class World:
    chat_id: str
    closed_chat_id: str
    message_ids: list[str] = field(default_factory=list)
    endpoint_id: str = ""
    unrouted_id: str = ""
    note_id: str = ""


def vonage_settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        carrier="vonage",
        vonage_api_key="key",
        vonage_api_secret="secret",
        vonage_webhooks_unsigned="allow",
    )


@pytest.fixture
async def vonage_app(database_url: str) -> AsyncIterator[Quart]:
    value = create_app(vonage_settings(database_url), background=False)
    value.register_blueprint(careless)
    async with value.test_app():
        yield value


def inbound(sender: str, to: str, message_id: str, text: str) -> dict[str, str]:
    return {"msisdn": sender[1:], "to": to[1:], "messageId": message_id, "text": text}


async def build_world(app: Quart, admin: Client, key: str) -> tuple[World, list[str]]:
    """Chats, messages, an unrouted SMS, a closed chat: through the API, the webhooks and
    the pages. Returns the world and every answer the building got."""
    rt: Runtime = app.extensions["smsproxy"]
    await add_numbers(rt, PROXY_UK, PROXY_US)
    client = app.test_client()
    answers: list[str] = []

    async def keep(response: Any) -> Any:
        answers.append(await response.get_data(as_text=True))
        return response

    # An integration endpoint, created before the messages: its delivery log lists them.
    hook = {"url": "https://hooks.example.com/smsproxy", "events": ["*"]}
    endpoint = await keep(
        await client.post("/api/v1/webhook-endpoints", json=hook, headers=auth(key))
    )
    people = {"participants": [{"number": RIDER, "name": "Rider"}, {"number": DRIVER}]}
    created = await keep(await client.post("/api/v1/chats", json=people, headers=auth(key)))
    chat_id = (await created.get_json())["id"]
    other = {"participants": [{"number": LEFT}, {"number": "+447700900790"}], "intro": False}
    closed = await keep(await client.post("/api/v1/chats", json=other, headers=auth(key)))
    closed_id = (await closed.get_json())["id"]
    await keep(await client.post(f"/api/v1/chats/{closed_id}/close", headers=auth(key)))

    await keep(
        await client.post(
            "/webhooks/inbound-sms", form=inbound(RIDER, PROXY_UK, "IN1", "On my way")
        )
    )
    await keep(
        await client.post("/webhooks/inbound-sms", form=inbound(DRIVER, PROXY_US, "IN2", "Outside"))
    )
    await keep(
        await client.post(
            "/webhooks/inbound-sms", form=inbound(STRANGER, PROXY_UK, "IN3", "Hello?")
        )
    )
    await keep(await csrf_post(admin, f"/chats/{chat_id}/messages", {"body": "Staff here"}))
    await keep(await csrf_post(admin, f"/chats/{chat_id}/messages", {"body": ""}))  # an error page
    note = await keep(
        await client.post(
            f"/api/v1/chats/{chat_id}/notes", json={"body": "Rider is a regular"}, headers=auth(key)
        )
    )
    message = {"body": "From the API", "to": "all"}
    await keep(
        await client.post(f"/api/v1/chats/{chat_id}/messages", json=message, headers=auth(key))
    )

    async with rt.db.read() as session:
        messages = (await session.exec(select(Message))).all()
    world = World(chat_id, closed_id)
    world.endpoint_id = (await endpoint.get_json())["id"]
    world.note_id = (await note.get_json())["id"]
    world.message_ids = [m.public_id for m in messages if m.chat_id is not None]
    world.unrouted_id = next(m.public_id for m in messages if m.chat_id is None)
    return world, answers


def values_for(rule: Rule, world: World) -> list[dict[str, str]]:
    """Every way this test fills the rule's path parameters."""
    names = set(rule.arguments)
    if not names:
        return [{}]
    if names == {"chat_id"}:
        return [{"chat_id": world.chat_id}, {"chat_id": world.closed_chat_id}]
    if names == {"chat_id", "message_id"}:
        return [{"chat_id": world.chat_id, "message_id": m} for m in world.message_ids[:6]]
    if names == {"chat_id", "note_id"}:
        return [{"chat_id": world.chat_id, "note_id": world.note_id}]
    if names == {"message_id"} and rule.rule.startswith("/unrouted/"):
        return [{"message_id": world.unrouted_id}]
    if names == {"endpoint_id"}:
        return [{"endpoint_id": world.endpoint_id}]
    if names == {"chat_id", "format"}:
        return [{"chat_id": world.chat_id, "format": f} for f in ("csv", "json")]
    if names == {"chart"}:
        return [{"chart": chart} for chart in CHARTS]
    raise AssertionError(f"{rule.rule}: add values for {sorted(names)} to values_for")


async def leaks(app: Quart, world: World, admin: Client, key: str) -> tuple[list[str], list[str]]:
    """Every GET route's answer that spells out a real number, as 'path: numbers', and
    every path walked."""
    found, walked = [], []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.rule in NOT_WALKED or "GET" not in (rule.methods or set()):
            continue
        for values, query in (
            (values, query)
            for values in values_for(rule, world)
            for query in QUERIES.get(rule.rule, [""])
        ):
            path = adapter.build(rule.endpoint, values) + query
            walked.append(path)
            if path.startswith("/api/"):
                response = await app.test_client().get(path, headers=auth(key))
            else:
                response = await admin.get(path)
            text = await response.get_data(as_text=True)
            assert response.status_code < 500, f"{path}: {response.status_code}"
            spelled = spelled_in(text, *REAL_NUMBERS)
            if spelled:
                found.append(f"{path}: {', '.join(spelled)}")
    return found, walked


async def test_no_page_api_answer_or_event_spells_out_a_real_number(vonage_app: Quart) -> None:
    admin = await logged_in_client(vonage_app, "meta-admin", "admin")
    key = await create_api_key(vonage_app.extensions["smsproxy"])
    world, answers = await build_world(vonage_app, admin, key)
    assert len(world.message_ids) >= 5 and world.unrouted_id

    found, walked = await leaks(vonage_app, world, admin, key)
    assert found == ["/careless/numbers: +447700900321"]  # the check does find one
    for path in (
        f"/chats/{world.chat_id}",
        f"/chats/{world.chat_id}/row",
        f"/chats/{world.chat_id}/messages/{world.message_ids[0]}",
        f"/unrouted/{world.unrouted_id}/row",
        "/unrouted",
        "/audit",
        "/audit.csv",
        f"/api/v1/chats/{world.chat_id}/messages",
        "/api/v1/audit-events",
        "/search?q=way",
        "/api/v1/messages/search?q=staff",
    ):
        assert path in walked
    for answer in answers:
        assert spelled_in(answer, *REAL_NUMBERS) == []

    rt: Runtime = vonage_app.extensions["smsproxy"]
    async with rt.db.read() as session:
        events = (await session.exec(select(EventRecord))).all()
    assert len(events) >= 8
    for event in events:
        assert spelled_in(repr(event.payload), *REAL_NUMBERS) == [], event.name


def test_the_finder_knows_the_usual_spellings() -> None:
    for spelling in ("+447700900321", "447700900321", "07700 900321", "+44 7700 900 321"):
        assert spelled_in(spelling, RIDER) == [RIDER]
    for spelling in ("(202) 555-0147", "+1 202.555.0147", "tel:+1-202-555-0147"):
        assert spelled_in(spelling, DRIVER) == [DRIVER]
    assert spelled_in("+44770•••••21 and +120•••••47", RIDER, DRIVER) == []


# A page made to leak, so the walk above proves it can fail.
careless = Blueprint("careless", __name__)


@careless.get("/careless/numbers")
@staff_required
async def get_careless_numbers() -> str:
    return f"<p>Call 0{RIDER[3:7]} {RIDER[7:]}</p>"

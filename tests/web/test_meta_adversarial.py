"""Hostile requests over the whole URL map: a staff session ridden from another site is
refused on every unsafe page route; an agent is refused on every admin route; a
revoked API key is refused at once, in every process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func
from sqlmodel import select
from werkzeug.routing import Rule

from smsproxy.app import create_app
from smsproxy.config import Settings
from smsproxy.models import AuditEvent
from smsproxy.proxy import keys
from smsproxy.runtime import Runtime
from smsproxy.web.csrf import FAILURE_MESSAGE, is_exempt
from tests.conftest import csrf_post, csrf_token_of
from tests.helpers import auth, create_api_key
from tests.web.test_meta_auth import methods_of, path_of

CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/lure.html"},
]


def page_rules(app: Quart, *, unsafe: bool) -> list[tuple[Rule, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if getattr(rule, "websocket", False) or is_exempt(rule.rule):
            continue
        for method in methods_of(rule):
            if (method != "GET") == unsafe:
                found.append((rule, method))
    return found


async def audit_count(app: Quart) -> int:
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        return (await session.exec(select(func.count()).select_from(AuditEvent))).one()


async def test_a_staff_session_is_refused_cross_site_on_every_unsafe_route(
    app: Quart, staff_client: Client
) -> None:
    token = await csrf_token_of(staff_client)
    before = await audit_count(app)
    routes = page_rules(app, unsafe=True)
    assert any(
        rule.rule == "/chats/<chat_id>/participants/<participant_id>/reveal" for rule, _ in routes
    )
    problems = []
    for rule, method in routes:
        path = path_of(app, rule)
        attempts = [({"csrf_token": token}, headers) for headers in CROSS_SITE]
        attempts.append(({}, {"Origin": "http://localhost"}))  # this site, no token
        for form, headers in attempts:
            response = await staff_client.open(path, method=method, form=form, headers=headers)
            body = await response.get_data(as_text=True)
            if response.status_code != 403 or FAILURE_MESSAGE not in body:
                problems.append(f"{method} {rule.rule} {headers}: {response.status_code}")
    assert problems == []
    assert await audit_count(app) == before  # nothing was done


def admin_rules(app: Quart) -> list[tuple[Rule, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        marker = getattr(app.view_functions[rule.endpoint], "__smsproxy_auth__", None)
        if marker == "admin":
            found += [(rule, method) for method in methods_of(rule) or ["GET"]]
    return found


async def test_an_agent_is_refused_on_every_admin_route(app: Quart, agent_client: Client) -> None:
    routes = admin_rules(app)
    assert {rule.rule for rule, _ in routes} >= {
        "/audit",
        "/audit.csv",
        "/api-keys",
        "/staff",
        "/chats/<chat_id>/participants/<participant_id>/reveal",
    }
    before = await audit_count(app)
    problems = []
    for rule, method in routes:
        path = path_of(app, rule)
        if method == "GET":
            response = await agent_client.get(path)
        else:
            response = await csrf_post(agent_client, path, {})
        if response.status_code != 403:
            problems.append(f"{method} {rule.rule}: {response.status_code}")
    assert problems == []
    assert await audit_count(app) == before


async def test_an_agent_sees_no_admin_link(agent_client: Client, staff_client: Client) -> None:
    agent_page = await (await agent_client.get("/chats")).get_data(as_text=True)
    admin_page = await (await staff_client.get("/chats")).get_data(as_text=True)
    for href in ("/audit", "/api-keys", "/staff"):
        assert f'href="{href}"' not in agent_page and f'href="{href}"' in admin_page


@pytest.fixture
async def second_process(settings: Settings) -> AsyncIterator[Quart]:
    """Another app on the same database, as a second worker or host would be."""
    value = create_app(settings, background=False)
    async with value.test_app():
        yield value


async def test_a_revoked_key_is_refused_at_once_everywhere(
    app: Quart, second_process: Quart, staff_client: Client
) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    key = await create_api_key(rt, "doomed")
    for process in (app, second_process):
        assert (
            await process.test_client().get("/api/v1/chats", headers=auth(key))
        ).status_code == 200

    async with rt.db.read() as session:
        [record] = [k for k in await keys.list_keys(session) if k.name == "doomed"]
    revoked = await csrf_post(staff_client, f"/api-keys/{record.id}/revoke")
    assert revoked.status_code == 303

    for process in (app, second_process):
        response = await process.test_client().get("/api/v1/chats", headers=auth(key))
        assert response.status_code == 401
        assert "unknown or revoked" in (await response.get_json())["error"]["message"]

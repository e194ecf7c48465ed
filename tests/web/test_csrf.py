"""CSRF: every unsafe HTML request needs this session's token and this site's origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from smsproxy.config import Settings
from smsproxy.web.csrf import FAILURE_MESSAGE, is_exempt
from tests.conftest import STAFF_PASSWORD, add_staff, csrf_headers, csrf_post, csrf_token_of
from tests.guarded import start_app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    async for value in start_app(settings):
        yield value


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, {"Origin": "http://localhost"}),
        ({"csrf_token": "forged"}, {"Origin": "http://localhost"}),
        ({"csrf_token": "TOKEN"}, {"Origin": "https://evil.example"}),
        ({"csrf_token": "TOKEN"}, {"Origin": "null"}),
        ({"csrf_token": "TOKEN"}, {"Referer": "https://evil.example/page"}),
        ({"csrf_token": "TOKEN"}, {"Origin": "http://localhost.evil.example"}),
    ],
)
async def test_csrf_refusals(
    staff_client: Client, form: dict[str, str], headers: dict[str, str]
) -> None:
    token = await csrf_token_of(staff_client)
    form = {key: token if value == "TOKEN" else value for key, value in form.items()}
    response = await staff_client.post("/guarded/form", form=form, headers=headers)
    assert response.status_code == 403
    assert FAILURE_MESSAGE in await response.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://localhost"}, {"Referer": "http://localhost/chats"}, {}],
)
async def test_csrf_accepts_own_pages(staff_client: Client, headers: dict[str, str]) -> None:
    form = {"csrf_token": await csrf_token_of(staff_client)}
    response = await staff_client.post("/guarded/form", form=form, headers=headers)
    assert response.status_code == 200


async def test_csrf_token_from_another_session_is_refused(
    staff_client: Client, agent_client: Client
) -> None:
    other = await csrf_token_of(agent_client)
    assert other != await csrf_token_of(staff_client)
    response = await staff_client.post(
        "/guarded/form", form={"csrf_token": other}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 403


async def test_csrf_header_for_fetch(staff_client: Client) -> None:
    headers = await csrf_headers(staff_client)
    ok = await staff_client.post("/guarded/form", json={"x": 1}, headers=headers)
    assert ok.status_code == 200
    refused = await staff_client.post(
        "/guarded/form", json={"x": 1}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 403
    assert (await refused.get_json())["error"]["message"] == FAILURE_MESSAGE


@pytest.mark.parametrize("path", ["/api/test-echo", "/webhooks/test-echo"])
async def test_api_and_webhooks_are_exempt(app: Quart, path: str) -> None:
    response = await app.test_client().post(
        path, form={"a": "b"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 200


async def test_healthz_post_is_not_a_csrf_failure(app: Quart) -> None:
    assert (await app.test_client().post("/healthz")).status_code == 405


async def test_login_form_is_protected_and_token_rotates(app: Quart) -> None:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    form = {"username": "alice", "password": STAFF_PASSWORD}
    refused = await client.post("/login", form=form)
    assert refused.status_code == 403
    before = await csrf_token_of(client)
    assert (await csrf_post(client, "/login", form)).status_code == 303
    assert await csrf_token_of(client) != before


def test_no_page_lives_under_a_path_the_check_exempts(app: Quart) -> None:
    """The exemptions are path prefixes (the API, the carrier's webhooks): a page put
    under one would take forms without the check, and without the login meta-test too."""
    pages = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("dashboard.")]
    assert "/integrations" in pages
    assert [page for page in pages if is_exempt(page)] == []

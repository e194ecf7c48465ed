"""TRUSTED_PROXY_HOPS: behind load balancers the app sees each client's own address and
host (from X-Forwarded-*), and only then: a client that reaches the app directly
cannot choose its address by sending the header."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import requests
from quart import Quart
from quart.testing.connections import WebsocketResponseError

from smsproxy.app import create_app
from tests.conftest import csrf_post, logged_in_client, make_settings
from tests.server import AppServer

BALANCER = {"client": ("10.0.0.2", 50000)}  # every request arrives from the balancer


@asynccontextmanager
async def app_with(database_url: str, hops: int) -> AsyncIterator[Quart]:
    app = create_app(make_settings(database_url, trusted_proxy_hops=hops), background=False)
    async with app.test_app():
        yield app


async def failed_login(app: Quart, forwarded_for: str) -> int:
    # An empty password is refused without hashing, and still counts.
    response = await csrf_post(
        app.test_client(),
        "/login",
        {"username": "alice", "password": ""},
        headers={"X-Forwarded-For": forwarded_for},
        scope_base=BALANCER,
    )
    return response.status_code


@pytest.mark.parametrize(("hops", "other_client_status"), [(1, 400), (0, 429)])
async def test_login_limit_counts_the_forwarded_client(
    database_url: str, hops: int, other_client_status: int
) -> None:
    async with app_with(database_url, hops) as app:
        # What the client wrote comes first; the balancer appends the address it saw.
        for _ in range(10):
            assert await failed_login(app, "198.51.100.1, 203.0.113.5") == 400
        assert await failed_login(app, "203.0.113.5") == 429
        # Another client behind the same balancer is limited only when its header is
        # ignored (hops 0: everyone shares the balancer's address).
        assert await failed_login(app, "203.0.113.6") == other_client_status


async def test_one_hop_ignores_what_the_client_wrote_before_it(database_url: str) -> None:
    async with app_with(database_url, 1) as app:
        for n in range(10):
            assert await failed_login(app, f"192.0.2.{n}, 203.0.113.5") == 400
        assert await failed_login(app, "192.0.2.99, 203.0.113.5") == 429


SITE = "sms.example.com"
BEHIND = {"Host": "app.internal:8000", "X-Forwarded-Host": SITE, "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize(("hops", "status"), [(1, 303), (0, 403)])
async def test_csrf_origin_check_sees_the_forwarded_host(
    database_url: str, hops: int, status: int
) -> None:
    async with app_with(database_url, hops) as app:
        client = await logged_in_client(app, "alice", "agent")
        headers = {**BEHIND, "Origin": f"https://{SITE}"}
        response = await csrf_post(client, "/logout", headers=headers, scope_base=BALANCER)
    assert response.status_code == status


@pytest.mark.parametrize(("hops", "accepted"), [(1, True), (0, False)])
async def test_live_socket_origin_check_sees_the_forwarded_host(
    database_url: str, hops: int, accepted: bool
) -> None:
    async with app_with(database_url, hops) as app:
        client = await logged_in_client(app, "alice", "agent")
        headers = {**BEHIND, "Origin": f"https://{SITE}"}
        if accepted:
            async with client.websocket("/live", headers=headers) as ws:
                assert '"hello"' in await ws.receive()
            return
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket("/live", headers=headers) as ws:
                await ws.receive()
        assert refused.value.response.status_code == 403


def test_hypercorn_serves_the_app_with_the_setting(database_url: str, tmp_path: Path) -> None:
    """The Procfile's `hypercorn 'smsproxy.app:create_app()'` gets the wrapped app."""
    env = {"DATABASE_URL": database_url, "TRUSTED_PROXY_HOPS": "1"}
    with AppServer(env, log_dir=tmp_path) as server, requests.Session() as browser:
        page = browser.get(server.url("/login"), timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token

        def login(forwarded_for: str) -> int:
            form = {"csrf_token": token.group(1), "username": "alice", "password": ""}
            headers = {"X-Forwarded-For": forwarded_for}
            answer = browser.post(server.url("/login"), data=form, headers=headers, timeout=10)
            return answer.status_code

        assert [login("203.0.113.5") for _ in range(10)] == [400] * 10
        assert login("203.0.113.5") == 429
        assert login("203.0.113.6") == 400
    # Each of hypercorn's lines once: its own handler prints it, the app's does not again.
    log = server.log_path.read_text()
    assert log.count(f"Running on http://127.0.0.1:{server.port}") == 1, log

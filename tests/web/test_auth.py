"""Login, logout, the page and WebSocket guards, login rate limiting."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from quart import Quart
from quart.testing import WebsocketResponseError
from quart.typing import TestClientProtocol as Client
from quart_auth import generate_auth_token
from redis.asyncio import Redis
from sqlmodel import select

from smsproxy.config import Settings
from smsproxy.models import StaffUser
from smsproxy.proxy import users
from smsproxy.web.auth import safe_next
from smsproxy.web.guards import auth_id_for
from tests.conftest import (
    REDIS_URL,
    STAFF_PASSWORD,
    add_staff,
    csrf_post,
    logged_in_client,
    make_settings,
    need_service,
)
from tests.guarded import auth_cookie_header, login, rt, start_app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    async for value in start_app(settings):
        yield value


# Login and logout


async def test_login_page_has_form_with_csrf_and_next(app: Quart) -> None:
    response = await app.test_client().get("/login?next=/chats/ch_1")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="csrf_token"' in html and 'name="password"' in html
    assert 'name="next" value="/chats/ch_1"' in html


async def test_login_sets_safe_cookie_and_follows_next(app: Quart) -> None:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    assert (await client.get("/guarded/page")).status_code == 302
    response = await csrf_post(
        client, "/login", {"username": "Alice", "password": STAFF_PASSWORD, "next": "/guarded/page"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/guarded/page"
    cookie = auth_cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert (await client.get("/guarded/page")).status_code == 200
    async with rt(app).db.read() as session:
        user = (await session.exec(select(StaffUser))).one()
    assert user.last_login_at is not None
    assert STAFF_PASSWORD not in user.password_hash and user.password_hash.startswith("$argon2")


async def test_cookies_are_secure_behind_https(database_url: str) -> None:
    settings = make_settings(database_url, public_url="https://proxy.example.com")
    async for app in start_app(settings):
        await add_staff(app, "alice", "agent")
        client = app.test_client()
        # Host says localhost; PUBLIC_URL names the site the browser sees.
        headers = {"Origin": "https://proxy.example.com"}
        response = await login(client, "alice", STAFF_PASSWORD, headers=headers, scheme="https")
        assert response.status_code == 303
        assert "Secure" in auth_cookie_header(response)
        session_cookie = next(
            v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")
        )
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("alice", "wrong password!", "Wrong username or password"),
        ("nobody", STAFF_PASSWORD, "Wrong username or password"),
        ("alice", "", "Enter your username and password"),
        ("", STAFF_PASSWORD, "Enter your username and password"),
    ],
)
async def test_wrong_credentials_show_form_again(
    app: Quart, username: str, password: str, message: str
) -> None:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    response = await login(client, username, password)
    html = await response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert f'value="{username}"' in html
    assert not any(v.startswith("QUART_AUTH=") for v in response.headers.getlist("Set-Cookie"))
    assert (await client.get("/guarded/page")).status_code == 302


async def test_typed_username_is_escaped(app: Quart) -> None:
    response = await login(app.test_client(), '"><script>x</script>', "whatever password")
    html = await response.get_data(as_text=True)
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/chats?status=active", "/chats?status=active"),
        ("/chats/ch_1#latest", "/chats/ch_1#latest"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("http:/evil.example", "/"),
        ("chats", "/"),
        ("/login", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
async def test_login_never_redirects_off_site(app: Quart, evil: str) -> None:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    form = {"username": "alice", "password": STAFF_PASSWORD, "next": evil}
    response = await csrf_post(client, "/login", form)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = await client.get("/login", query_string={"next": evil})
    assert page.status_code == 302 and page.headers["Location"] == "/"


async def test_logout_ends_session(staff_client: Client) -> None:
    response = await csrf_post(staff_client, "/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "QUART_AUTH=;" in auth_cookie_header(response)
    page = await staff_client.get("/guarded/page")
    assert page.status_code == 302
    login_page = await staff_client.get("/login")
    assert "You are logged out." in await login_page.get_data(as_text=True)


async def test_logout_needs_csrf_token(staff_client: Client) -> None:
    response = await staff_client.post("/logout", headers={"Origin": "http://localhost"})
    assert response.status_code == 403
    assert (await staff_client.get("/guarded/page")).status_code == 200


# Guards


async def test_anonymous_page_redirects_to_login_with_next(app: Quart) -> None:
    response = await app.test_client().get("/guarded/page?tab=open")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/guarded/page?tab%3Dopen"


async def test_anonymous_json_gets_401(app: Quart) -> None:
    response = await app.test_client().get("/guarded/page", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "unauthorized"


async def test_admin_guard(staff_client: Client, agent_client: Client) -> None:
    assert (await staff_client.get("/guarded/admin")).status_code == 200
    refused = await agent_client.get("/guarded/admin")
    assert refused.status_code == 403
    assert "Only administrators" in await refused.get_data(as_text=True)
    assert (await agent_client.get("/guarded/page")).status_code == 200


async def test_new_password_ends_existing_sessions(app: Quart, staff_client: Client) -> None:
    assert (await staff_client.get("/guarded/page")).status_code == 200
    async with rt(app).db.transaction() as session:
        await users.set_password(session, "test-admin", "another long password")
    assert (await staff_client.get("/guarded/page")).status_code == 302


async def test_deactivated_user_is_logged_out(app: Quart, agent_client: Client) -> None:
    async with rt(app).db.transaction() as session:
        user = await users.get_user_by_username(session, "test-agent")
        assert user is not None
        user.active = False
    assert (await agent_client.get("/guarded/page")).status_code == 302


async def test_forged_cookies_are_anonymous(app: Quart) -> None:
    user = await add_staff(app, "alice", "admin")
    client = app.test_client()
    genuine = generate_auth_token(client, auth_id_for(user))
    for forged in (
        f"{user.id}:{users.credential_fingerprint(user)}",  # unsigned
        generate_auth_token(client, f"{user.id}:0000000000000000"),  # stale fingerprint
        generate_auth_token(client, f"{user.id}"),
        genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),  # bad signature
    ):
        client.set_cookie("localhost", "QUART_AUTH", forged)
        assert (await client.get("/guarded/page")).status_code == 302, forged
    client.set_cookie("localhost", "QUART_AUTH", genuine)
    assert (await client.get("/guarded/page")).status_code == 200


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (None, "/guarded/ws", 401),
        ("agent", "/guarded/admin-ws", 403),
        ("agent", "/guarded/ws", None),
        ("admin", "/guarded/admin-ws", None),
    ],
)
async def test_websocket_guards(
    app: Quart, role: str | None, path: str, status: int | None
) -> None:
    client = await logged_in_client(app, "someone", role) if role else app.test_client()
    if status is None:
        async with client.websocket(path, headers={"Origin": "http://localhost"}) as ws:
            assert await ws.receive() in {"hello staff", "hello admin"}
        return
    with pytest.raises(WebsocketResponseError) as caught:
        async with client.websocket(path) as ws:
            await ws.receive()
    assert caught.value.response.status_code == status


async def test_websocket_from_another_site_is_refused(staff_client: Client) -> None:
    with pytest.raises(WebsocketResponseError) as caught:
        async with staff_client.websocket(
            "/guarded/ws", headers={"Origin": "https://evil.example"}
        ) as ws:
            await ws.receive()
    assert caught.value.response.status_code == 403


# Rate limiting


async def test_login_attempts_are_rate_limited_per_address(app: Quart) -> None:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    here = {"client": ("203.0.113.5", 40000)}
    for _ in range(10):  # empty passwords: refused without hashing, still counted
        response = await login(client, "alice", "", scope_base=here)
        assert response.status_code == 400
    spoofed = {"X-Forwarded-For": "198.51.100.77", "Origin": "http://localhost"}
    refused = await login(client, "alice", STAFF_PASSWORD, scope_base=here, headers=spoofed)
    html = await refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    seconds = int(refused.headers["Retry-After"])
    assert 0 < seconds <= 60
    assert f"Too many login attempts. Try again in {seconds} seconds." in html
    assert 'value="alice"' in html
    elsewhere = {"client": ("203.0.113.6", 40000)}
    assert (await login(client, "alice", STAFF_PASSWORD, scope_base=elsewhere)).status_code == 303


async def test_login_limit_is_shared_by_workers_through_redis(database_url: str) -> None:
    url = need_service("Redis", REDIS_URL, "REDIS_URL")
    settings = make_settings(database_url, redis_url=url)
    address = f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    here = {"client": (address, 40000)}
    async for first in start_app(settings):
        async for second in start_app(settings):
            for worker in (first, second) * 5:
                response = await login(worker.test_client(), "alice", "", scope_base=here)
                assert response.status_code == 400
            refused = await login(first.test_client(), "alice", "", scope_base=here)
            assert refused.status_code == 429
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"*post_login*{address}")]
        assert len(keys) == 1
        assert 0 < await redis.ttl(keys[0]) <= 61
    finally:
        await redis.aclose()


async def test_rate_limiter_leaves_other_routes_alone(app: Quart) -> None:
    client = app.test_client()
    for path in ("/login", "/healthz"):
        for _ in range(15):
            response = await client.get(path)
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers

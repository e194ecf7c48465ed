"""Security headers on every response, and templates that keep within the policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from smsproxy.web.headers import content_security_policy
from tests.conftest import make_settings
from tests.guarded import start_app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' ws://localhost wss://localhost",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
]


def assert_secured(response: object, where: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = [part.strip() for part in headers["Content-Security-Policy"].split(";")]
    for directive in DIRECTIVES:
        assert directive in policy, f"{where}: {directive}"
    assert not any("unsafe" in part for part in policy), where
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["Referrer-Policy"] == "same-origin", where
    assert headers["X-Frame-Options"] == "DENY", where


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/chats",
        "/chats/new",
        "/numbers",
        "/audit",
        "/api/docs",
        "/nowhere",
        "/static/css/app.css",
    ],
)
async def test_pages_and_errors_carry_the_headers(staff_client: Client, path: str) -> None:
    response = await staff_client.get(path)
    assert_secured(response, path)


async def test_api_webhook_and_refusal_answers_carry_them_too(app: Quart) -> None:
    client = app.test_client()
    for response in (
        await client.get("/api/v1/chats"),  # 401
        await client.post("/webhooks/inbound-sms", form={}),  # 400
        await client.post("/login", form={}),  # 403, CSRF
        await client.get("/healthz"),
    ):
        assert_secured(response, str(response.status_code))


async def test_https_sites_also_ask_for_https_only(database_url: str) -> None:
    async for app in start_app(make_settings(database_url, public_url="https://sms.example.com")):
        response = await app.test_client().get("/login")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    async for app in start_app(make_settings(database_url)):
        response = await app.test_client().get("/login")
        assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize(
    ("host", "sockets"),
    [
        ("sms.example.com", "ws://sms.example.com wss://sms.example.com"),
        ("127.0.0.1:8000", "ws://127.0.0.1:8000 wss://127.0.0.1:8000"),
        ("[::1]:8000", "ws://[::1]:8000 wss://[::1]:8000"),
    ],
)
def test_the_live_socket_is_named_for_the_host(host: str, sockets: str) -> None:
    assert f"connect-src 'self' {sockets}" in content_security_policy(host)


def test_a_host_header_cannot_write_its_own_directives() -> None:
    policy = content_security_policy("evil.example; script-src *")
    assert "script-src *" not in policy and "connect-src 'self'" in policy


def test_the_templates_keep_no_inline_code() -> None:
    """No inline script (data blocks of type application/json are not code), no style
    attribute, no event-handler attribute, no javascript: link."""
    inline = re.compile(
        r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>"
        r"|\sstyle\s*=|\son[a-z]+\s*=\s*[\"']|javascript:",
        re.IGNORECASE,
    )
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if inline.search(line):
                found.append(f"{template.relative_to(TEMPLATES)}:{number}: {line.strip()}")
    assert found == []
    assert inline.search('<a href="#" onclick="go()">') and inline.search("<script>alert(1)")

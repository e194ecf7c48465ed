"""Meta-tests over the whole URL map: every route but a short, explicit list refuses a
visitor who is not logged in (pages send them to /login, the API answers 401, the live
socket is refused), and every API route is rate limited.

A route added without its guard fails here, whoever adds it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from quart import Blueprint, Quart
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart_rate_limiter import (
    QUART_RATE_LIMITER_EXEMPT_ATTRIBUTE,
    QUART_RATE_LIMITER_LIMITS_ATTRIBUTE,
)
from werkzeug.routing import Rule

from smsproxy.config import Settings
from smsproxy.web.guards import staff_required
from tests.conftest import csrf_post

# Reachable without logging in, on purpose. Nothing else is.
PUBLIC_PATHS = {
    "/healthz",  # load balancers
    "/readyz",
    "/login",
    "/logout",  # ends a session if there is one; there is nothing behind it to protect
    "/openapi.json",  # the API's description, not its data
    "/api/docs",  # the reference page made from /openapi.json: shapes, no data
    # The carrier, which proves itself with signatures instead: the SMS API's webhooks
    # and the Messages API's, one by one, so a new webhook is public only on purpose.
    "/webhooks/inbound-sms",
    "/webhooks/delivery-receipt",
    "/webhooks/inbound",
    "/webhooks/status",
}
PUBLIC_PREFIXES = ("/static/",)
GUARDS = {"staff", "admin", "api_key"}  # what smsproxy.web.auth and the API set


def is_public(rule: Rule) -> bool:
    return rule.rule in PUBLIC_PATHS or rule.rule.startswith(PUBLIC_PREFIXES)


def guarded_rules(app: Quart) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if not is_public(rule)]


def path_of(app: Quart, rule: Rule) -> str:
    """The rule's URL with a dummy value for each part ("1" suits every converter)."""
    adapter = app.url_map.bind("localhost")
    return str(adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, "1")))


def methods_of(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


async def refusal(app: Quart, rule: Rule, method: str) -> str | None:
    """Why this request, made without logging in, was not refused as it should be;
    None when it was."""
    client = app.test_client()
    path = path_of(app, rule)
    where = f"{method} {rule.rule}"
    if getattr(rule, "websocket", False):
        try:
            async with client.websocket(path) as socket:
                await asyncio.wait_for(socket.receive(), 5)
        except WebsocketResponseError as refused:
            status = refused.response.status_code
            return None if status == 401 else f"{where}: answered {status}, not 401"
        except WebsocketDisconnectError:
            return f"{where}: accepted the socket, then closed it"
        return f"{where}: accepted a socket without a login"
    if rule.rule.startswith("/api/"):
        response = await client.open(path, method=method, json={})
        if response.status_code != 401:
            return f"{where}: answered {response.status_code}, not 401"
        return None
    if method == "POST":
        # With a valid CSRF token, so what answers is the login check, not the CSRF one.
        response = await csrf_post(client, path, {})
    elif method == "GET":
        response = await client.get(path)
    else:
        return f"{where}: an HTML route with {method}; extend this test to send it"
    location = response.headers.get("Location", "")
    if response.status_code != 302 or not location.startswith("/login"):
        return f"{where}: answered {response.status_code} {location!r}, not 302 to /login"
    return None


async def unprotected(app: Quart) -> list[str]:
    problems = []
    for rule in guarded_rules(app):
        view = app.view_functions[rule.endpoint]
        marker = getattr(view, "__smsproxy_auth__", None)
        if marker not in GUARDS:
            problems.append(f"{rule.rule}: the view has no login guard (marker {marker!r})")
        for method in methods_of(rule) or ["GET"]:
            problem = await refusal(app, rule, method)
            if problem:
                problems.append(problem)
    return problems


def rate_limits_of(app: Quart, rule: Rule) -> list[Any]:
    """The limits quart-rate-limiter applies: the view's own plus its blueprints'."""
    view = app.view_functions[rule.endpoint]
    if getattr(view, QUART_RATE_LIMITER_EXEMPT_ATTRIBUTE, False):
        return []
    limits = list(getattr(view, QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, []))
    parts = rule.endpoint.split(".")[:-1]
    for depth in range(1, len(parts) + 1):
        blueprint = app.blueprints.get(".".join(parts[:depth]))
        limits += getattr(blueprint, QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, [])
    return limits


async def test_every_route_needs_a_login(app: Quart) -> None:
    rules = guarded_rules(app)
    # The map really holds the areas this test exists for.
    assert any(rule.rule.startswith("/api/v1/") for rule in rules)
    assert any(rule.rule.startswith("/chats") for rule in rules)
    assert any(getattr(rule, "websocket", False) for rule in rules)
    assert await unprotected(app) == []


async def test_every_api_route_is_rate_limited(app: Quart) -> None:
    api = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    api = [rule for rule in api if not is_public(rule)]
    assert api
    unlimited = [rule.rule for rule in api if not rate_limits_of(app, rule)]
    assert unlimited == []


# The checks above must catch a forgotten guard: prove it on routes made to be wrong.

careless = Blueprint("careless", __name__)


@careless.get("/careless-reports")
async def get_reports() -> str:
    return "everyone's numbers"


@careless.post("/careless-reports/<int:report_id>/delete")
async def post_report_delete(report_id: int) -> tuple[str, int]:
    return "deleted", 303


@careless.get("/looks-guarded")
async def get_looks_guarded() -> tuple[str, int, dict[str, str]]:
    # Redirects like a guard would, but nothing checks a login.
    return "", 302, {"Location": "/login"}


@careless.websocket("/careless-live")
async def careless_live() -> None:
    from quart import websocket

    await websocket.accept()
    await websocket.send("hello")


@careless.get("/api/v1/reports")
@staff_required
async def get_api_reports() -> str:
    return "no rate limit"


@pytest.fixture
async def careless_app(settings: Settings) -> Any:
    from smsproxy.app import create_app

    value = create_app(settings, background=False)
    value.register_blueprint(careless)
    async with value.test_app():
        yield value


async def test_the_check_catches_unguarded_routes(careless_app: Quart) -> None:
    problems = "\n".join(await unprotected(careless_app))
    assert "GET /careless-reports: answered 200" in problems
    assert "POST /careless-reports/<int:report_id>/delete: answered 303" in problems
    assert "/looks-guarded: the view has no login guard" in problems
    assert "/careless-live: accepted a socket without a login" in problems
    assert "/chats" not in problems  # the real pages pass


async def test_the_check_catches_an_unlimited_api_route(careless_app: Quart) -> None:
    rule = next(r for r in careless_app.url_map.iter_rules() if r.rule == "/api/v1/reports")
    assert rate_limits_of(careless_app, rule) == []
    real = next(r for r in careless_app.url_map.iter_rules() if r.rule == "/api/v1/chats")
    assert rate_limits_of(careless_app, real)

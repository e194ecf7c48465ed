"""Stand-in pages for the auth, CSRF and shell tests: the real pages live elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from quart import Blueprint, Quart, flash, render_template_string, websocket
from quart.typing import TestClientProtocol as Client

from smsproxy.app import create_app
from smsproxy.config import Settings
from smsproxy.db import utcnow
from smsproxy.runtime import Runtime
from smsproxy.web.guards import admin_required, staff_required
from tests.conftest import csrf_post

guarded = Blueprint("guarded", __name__)
SHELL = '{% extends "base.html" %}{% block content %}<p>inside the shell</p>{% endblock %}'
WIDGETS = """{% extends "base.html" %}{% block content %}
<time id="when" datetime="{{ when }}">{{ when }}</time>
<form method="post" action="/guarded/form" data-confirm="Close this chat?">
  {{ csrf_field() }}<button id="close">Close</button>
</form>{% endblock %}"""


@guarded.get("/guarded/page")
@staff_required
async def get_page() -> str:
    return await render_template_string(SHELL)


@guarded.get("/guarded/admin")
@admin_required
async def get_admin() -> str:
    return "admin page"


@guarded.get("/guarded/widgets")
@staff_required
async def get_widgets() -> str:
    await flash("Saved.", "success")
    five_minutes_ago = (utcnow() - timedelta(minutes=5)).isoformat()
    return await render_template_string(WIDGETS, when=five_minutes_ago)


@guarded.post("/guarded/form")
@staff_required
async def post_form() -> str:
    return "posted"


@guarded.post("/api/test-echo")
@guarded.post("/webhooks/test-echo")
async def post_echo() -> str:
    return "exempt"


@guarded.websocket("/guarded/ws")
@staff_required
async def ws_staff() -> None:
    await websocket.accept()
    await websocket.send("hello staff")


@guarded.websocket("/guarded/admin-ws")
@admin_required
async def ws_admin() -> None:
    await websocket.accept()
    await websocket.send("hello admin")


async def start_app(settings: Settings) -> AsyncIterator[Quart]:
    value = create_app(settings, background=False)
    value.register_blueprint(guarded)
    async with value.test_app():
        yield value


def rt(app: Quart) -> Runtime:
    value: Runtime = app.extensions["smsproxy"]
    return value


async def login(client: Client, username: str, password: str, **kw: Any) -> Any:
    return await csrf_post(client, "/login", {"username": username, "password": password}, **kw)


def auth_cookie_header(response: Any) -> str:
    return next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("QUART_AUTH="))

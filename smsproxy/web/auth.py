"""Staff login and logout, the home redirect, and what every page template is given."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from quart import (
    Blueprint,
    Quart,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from quart_auth import login_user, logout_user
from quart_rate_limiter import RateLimitExceeded, rate_limit
from quart_rate_limiter.redis_store import RedisStore
from quart_rate_limiter.store import MemoryStore, RateLimiterStoreABC

from ..config import Settings
from ..proxy import audit, users
from . import login_throttle, services, settings
from .csrf import rotate_token
from .guards import ACCOUNT_PAGE, StaffAuthUser, current_staff, public, staff_required
from .webhooks import unsigned_webhooks

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

SESSION_SECONDS = 7 * 24 * 3600
LOGIN_ATTEMPTS = 10
LOGIN_PERIOD = timedelta(minutes=1)
WRONG_CREDENTIALS = "Wrong username or password"
THROTTLE_KEY = "smsproxy.login_throttle"


def safe_next(value: str | None) -> str:
    """A same-site path to go to after login; anything else becomes "/"."""
    if not value or len(value) > 2000 or not value.startswith("/"):
        return "/"
    # "//host" and "/\\host" are other sites to a browser; control characters get
    # stripped by browsers and could turn "/\t/host" into "//host".
    if value.startswith("//") or "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in {"/login", "/logout"}:
        return "/"
    return value


async def _login_page(status: int, *, error: str | None, username: str, next_url: str) -> Any:
    html = await render_template("login.html", error=error, username=username, next_url=next_url)
    return html, status


@blueprint.get("/login")
@public
async def get_login() -> Any:
    next_url = safe_next(request.args.get("next"))
    if await current_staff() is not None:
        return redirect(next_url)
    return await _login_page(200, error=None, username="", next_url=next_url)


@blueprint.post("/login")
@rate_limit(LOGIN_ATTEMPTS, LOGIN_PERIOD)
@public
async def post_login() -> Any:
    form = await request.form
    username = form.get("username", "").strip()
    password = form.get("password", "")
    next_url = safe_next(form.get("next"))
    if not username or not password:
        error = "Enter your username and password"
        return await _login_page(400, error=error, username=username, next_url=next_url)
    account = users.normalize_username(username)
    known = login_throttle.is_known_device(account)
    if not known:
        wait = await throttle().wait_seconds(account)
        if wait:
            return await _account_throttled(account, username, next_url, wait)
        await throttle().charge(account)
    async with services().db.transaction() as db_session:
        user = await users.authenticate(
            db_session, username, password, address=await client_address()
        )
    if user is None:
        log.info("failed staff login")
        return await _login_page(400, error=WRONG_CREDENTIALS, username=username, next_url=next_url)
    if not known:
        await throttle().reset(account)
    login_user(StaffAuthUser.of(user))
    rotate_token()
    target = next_url
    if user.must_change_password:
        target = url_for(ACCOUNT_PAGE, next=next_url)
    response = redirect(target, 303)
    login_throttle.remember_device(response, user.username)
    return response


async def _account_throttled(account: str, typed: str, next_url: str, wait: int) -> Any:
    async with services().db.transaction() as db_session:
        audit.record(
            db_session,
            actor=audit.ANONYMOUS,
            action="staff.login_throttled",
            target=account,
            detail={"address": await client_address()},
        )
    minutes = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
    message = (
        f"Too many failed logins for this account. Try again in {minutes}, or from a "
        "browser you have logged in with before."
    )
    body, status = await _login_page(429, error=message, username=typed, next_url=next_url)
    return body, status, {"Retry-After": str(wait)}


@blueprint.errorhandler(RateLimitExceeded)
async def on_too_many_logins(error: RateLimitExceeded) -> Any:
    form = await request.form
    message = f"Too many login attempts. Try again in {error.retry_after} seconds."
    body, status = await _login_page(
        429,
        error=message,
        username=form.get("username", "").strip(),
        next_url=safe_next(form.get("next")),
    )
    return body, status, {"Retry-After": str(error.retry_after)}


@blueprint.post("/logout")
@public
async def post_logout() -> Any:
    staff = await current_staff()
    if staff is not None:
        async with services().db.transaction() as db_session:
            audit.record(
                db_session,
                actor=audit.staff_actor(staff.username),
                action="staff.logout",
                target=staff.username,
            )
    logout_user()
    session.clear()
    await flash("You are logged out.", "info")
    return redirect(url_for("auth.get_login"), 303)


@staff_required
async def get_home() -> Any:
    return redirect("/chats")


def add_home_redirect(app: Quart) -> None:
    """Send "/" to the chat list, unless a blueprint already serves "/"."""
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        app.add_url_rule("/", "home", get_home, methods=["GET"])


async def template_context() -> dict[str, Any]:
    staff = await current_staff()
    return {
        "staff_user": staff,
        "is_admin": bool(staff and staff.is_admin),
        "is_sandbox": settings().carrier == "sandbox",
        "webhooks_unsigned": unsigned_webhooks(settings()),
    }


async def client_address() -> str:
    # The connection's own address, never a header read here: X-Forwarded-For is
    # whatever the client says, and keying on it would let anyone pick a fresh key per
    # attempt. Behind trusted proxies (TRUSTED_PROXY_HOPS) the app's ASGI wrapper has
    # already put the address those proxies saw in its place.
    return request.remote_addr or "unknown"


class ExpiringRedisStore(RedisStore):
    """Limits shared by every worker; a key lives only until its period has passed."""

    async def set(self, key: str, tat: datetime) -> None:
        assert self._redis is not None
        seconds = math.ceil((tat - datetime.now(UTC)).total_seconds()) + 1
        await self._redis.set(key, tat.timestamp(), ex=max(seconds, 1))

    async def after_serving(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def rate_limit_store(settings: Settings) -> RateLimiterStoreABC:
    return ExpiringRedisStore(settings.redis_url) if settings.redis_url else MemoryStore()


def throttle() -> login_throttle.AccountThrottle:
    value: login_throttle.AccountThrottle = current_app.extensions[THROTTLE_KEY]
    return value


def init_app(app: Quart, store: RateLimiterStoreABC, settings: Settings) -> None:
    app.extensions[THROTTLE_KEY] = login_throttle.AccountThrottle(
        store,
        attempts=settings.login_account_attempts,
        period=timedelta(seconds=settings.login_account_period_seconds),
    )
    app.context_processor(template_context)
    app.register_blueprint(blueprint)

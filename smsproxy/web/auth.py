"""Staff login and logout, and the decorators that guard pages and WebSockets.

The login cookie (quart-auth) holds "<user id>:<credential fingerprint>": a new
password, or a deactivated account, ends every session at the next request. A user
whose password was generated for them (a one-time password) sees only the
change-password page until they have chosen their own.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from quart import (
    Blueprint,
    Quart,
    Response,
    flash,
    has_websocket_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
    websocket,
)
from quart_auth import Action, AuthUser, current_user, login_user, logout_user
from quart_rate_limiter import RateLimitExceeded, rate_limit
from quart_rate_limiter.redis_store import RedisStore
from quart_rate_limiter.store import MemoryStore, RateLimiterStoreABC
from werkzeug.exceptions import Forbidden, Unauthorized

from ..config import Settings
from ..models import Role, StaffUser
from ..proxy import users
from . import services, settings
from .csrf import allowed_hosts, rotate_token, same_site_source
from .errors import json_error, wants_json

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

SESSION_SECONDS = 7 * 24 * 3600
LOGIN_ATTEMPTS = 10
LOGIN_PERIOD = timedelta(minutes=1)
WRONG_CREDENTIALS = "Wrong username or password"
ACCOUNT_PAGE = "dashboard.account.get_password"
ONE_TIME_REFUSAL = "Choose a new password first: your current one is a one-time password"


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member, as pages and templates see them."""

    id: int
    username: str
    role: Role
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


def auth_id_for(user: StaffUser) -> str:
    return f"{user.id}:{users.credential_fingerprint(user)}"


class StaffAuthUser(AuthUser):
    """quart-auth's user, loading the StaffUser behind the cookie once per request."""

    def __init__(self, auth_id: str | None, action: Action = Action.PASS) -> None:
        super().__init__(auth_id, action)
        self._loaded = False
        self._staff: Staff | None = None

    @classmethod
    def of(cls, user: StaffUser) -> StaffAuthUser:
        value = cls(auth_id_for(user))
        value._loaded = True
        value._staff = staff_of(user)
        return value

    async def staff(self) -> Staff | None:
        if not self._loaded:
            self._staff = await load_staff(self.auth_id)
            self._loaded = True
        return self._staff

    @property
    async def is_authenticated(self) -> bool:
        return await self.staff() is not None


def staff_of(user: StaffUser) -> Staff:
    return Staff(cast(int, user.id), user.username, Role(user.role), user.must_change_password)


async def load_staff(auth_id: str | None) -> Staff | None:
    """The staff member a login cookie stands for, if it is still valid."""
    user_id, _, fingerprint = (auth_id or "").partition(":")
    if not user_id.isdigit() or not fingerprint:
        return None
    async with services().db.read() as db_session:
        user = await users.get_user(db_session, int(user_id))
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(users.credential_fingerprint(user), fingerprint):
        return None
    return staff_of(user)


async def current_staff() -> Staff | None:
    """The signed-in staff member of this request or WebSocket, or None."""
    user = cast(StaffAuthUser, current_user)
    return await user.staff()


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _guard(func: F, *, admin: bool, pending_password: bool = False) -> F:
    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if has_websocket_context():
            refusal = await _websocket_refusal(admin=admin)
            if refusal is not None:
                return refusal
            return await func(*args, **kwargs)
        staff = await current_staff()
        if staff is None:
            if wants_json():
                raise Unauthorized("Log in to continue")
            return redirect(url_for("auth.get_login", next=_here()))
        if staff.must_change_password and not pending_password:
            if wants_json():
                raise Forbidden(ONE_TIME_REFUSAL)
            return redirect(url_for(ACCOUNT_PAGE, next=_here()))
        if admin and not staff.is_admin:
            raise Forbidden("Only administrators can do this.")
        return await func(*args, **kwargs)

    # Lets a test walk the URL map and find routes that forgot their guard.
    wrapper.__smsproxy_auth__ = "admin" if admin else "staff"  # type: ignore[attr-defined]
    return cast(F, wrapper)


def staff_required(func: F) -> F:
    """Pages: log in first (redirect to /login?next=...); JSON and WebSockets: 401."""
    return _guard(func, admin=False)


def admin_required(func: F) -> F:
    """As staff_required, and agents get 403."""
    return _guard(func, admin=True)


def account_required(func: F) -> F:
    """As staff_required, and open while the password must still be changed: for the
    change-password page itself."""
    return _guard(func, admin=False, pending_password=True)


def public(func: F) -> F:
    """Marks a route meant for people who are not logged in (login, logout)."""
    func.__smsproxy_auth__ = "public"  # type: ignore[attr-defined]
    return func


async def _websocket_refusal(*, admin: bool) -> Response | None:
    # Browsers send cookies with a WebSocket opened by any site, and no CSRF token:
    # the Origin header is what tells this site's pages from another's.
    if not same_site_source(websocket.headers.get("Origin"), None, allowed_hosts(websocket.host)):
        return json_error(403, "forbidden", "WebSocket connections must come from this site")
    staff = await current_staff()
    if staff is None:
        return json_error(401, "unauthorized", "Log in to continue")
    if staff.must_change_password:
        return json_error(403, "password_change_required", ONE_TIME_REFUSAL)
    if admin and not staff.is_admin:
        return json_error(403, "forbidden", "Only administrators can do this.")
    return None


def _here() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


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
    async with services().db.transaction() as db_session:
        user = await users.authenticate(db_session, username, password)
    if user is None:
        log.info("failed staff login from %s", request.remote_addr)
        return await _login_page(400, error=WRONG_CREDENTIALS, username=username, next_url=next_url)
    login_user(StaffAuthUser.of(user))
    rotate_token()
    if user.must_change_password:
        return redirect(url_for(ACCOUNT_PAGE, next=next_url), 303)
    return redirect(next_url, 303)


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


def init_app(app: Quart) -> None:
    app.context_processor(template_context)
    app.register_blueprint(blueprint)

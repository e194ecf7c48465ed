"""Who is signed in, and the decorators that guard pages, fetches and WebSockets.

The login cookie (quart-auth) holds "<user id>:<credential fingerprint>": a new
password, or a deactivated account, ends every session at the next request. A user
whose password was generated for them (a one-time password) sees only the
change-password page until they have chosen their own.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from quart import (
    Response,
    has_websocket_context,
    redirect,
    request,
    url_for,
    websocket,
)
from quart_auth import Action, AuthUser, current_user
from werkzeug.exceptions import Forbidden, Unauthorized

from ..models import Role, StaffUser
from ..proxy import users
from . import services
from .csrf import allowed_hosts, same_site_source
from .errors import json_error, wants_json

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

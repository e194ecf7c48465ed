"""The signed-in user's own account: choosing a new password.

Someone whose password was generated for them (a one-time password) is sent here by
every other page until they have chosen their own.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart_auth import login_user
from quart_rate_limiter import rate_limit

from ...errors import ProxyError
from ...proxy import users
from .. import services
from ..auth import LOGIN_ATTEMPTS, LOGIN_PERIOD, safe_next
from ..guards import StaffAuthUser, account_required
from .base import FormErrors, error_field, signed_in

blueprint = Blueprint("account", __name__)

NO_STORE = {"Cache-Control": "no-store"}
# The form's field names, which are also the keys of its inline errors.
CURRENT, NEW, CONFIRM = "current_password", "new_password", "confirm_password"


async def render_password_page(
    *, next_url: str, errors: FormErrors | None = None, status: int = 200
) -> tuple[str, int, dict[str, str]]:
    staff = await signed_in()
    html = await render_template(
        "account_password.html",
        forced=staff.must_change_password,
        next_url=next_url,
        errors=errors or {},
    )
    return html, status, NO_STORE


def _next_of(raw: str | None) -> str:
    # No "next" means a visit from the account link: come back here after the change.
    return safe_next(raw) if raw else ""


@blueprint.get("/account/password")
@account_required
async def get_password() -> Any:
    return await render_password_page(next_url=_next_of(request.args.get("next")))


@blueprint.post("/account/password")
@rate_limit(LOGIN_ATTEMPTS, LOGIN_PERIOD)
@account_required
async def post_password() -> Any:
    staff = await signed_in()
    form = await request.form
    current = form.get(CURRENT, "")
    new = form.get(NEW, "")
    next_url = _next_of(form.get("next"))
    errors: FormErrors = {}
    if not current:
        errors[CURRENT] = "Enter your current password"
    if not new:
        errors[NEW] = "Enter a new password"
    elif new != form.get(CONFIRM, ""):
        errors[CONFIRM] = "The two new passwords are not the same"
    if not errors:
        try:
            async with services().db.transaction() as session:
                user = await users.change_own_password(session, staff.id, current, new)
        except ProxyError as error:
            errors[error_field(error, NEW)] = error.message
    if errors:
        return await render_password_page(next_url=next_url, errors=errors, status=400)
    # The cookie holds a fingerprint of the password hash: this session gets a new
    # cookie and goes on, every other session of this user ends.
    login_user(StaffAuthUser.of(user))
    await flash("Your password is changed. Other sessions of your account have ended.", "success")
    return redirect(next_url or url_for(".get_password"), 303)

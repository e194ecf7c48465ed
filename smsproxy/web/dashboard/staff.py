"""Staff accounts (admins only): who can log in, with which role; new accounts and
password resets hand out a one-time password, shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart import session as browser_session
from sqlmodel.ext.asyncio.session import AsyncSession

from ...errors import ProxyError
from ...models import Role, StaffUser
from ...proxy import passwords, users
from .. import services
from ..guards import admin_required
from .base import FormErrors, actor_of, error_field, signed_in

blueprint = Blueprint("staff", __name__)

NO_STORE = {"Cache-Control": "no-store"}


async def render_staff(
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int, dict[str, str]]:
    async with services().db.read() as session:
        people = await users.list_users(session)
    html = await render_template(
        "staff.html",
        people=people,
        states={person.username: users.account_state(person) for person in people},
        active_admins=sum(1 for p in people if p.active and p.role == Role.admin),
        roles=[role.value for role in Role],
        errors=errors or {},
        typed=typed or {},
        row_errors=row_errors or {},
    )
    return html, status, NO_STORE


# A one-time password just made, kept in this browser's session cookie (signed,
# HttpOnly) for the one page that shows it: the form redirects there, so reloading it
# neither resets the password again nor shows this one twice.
ONE_TIME = "one_time_password"


def show_one_time_password(user: StaffUser, password: str, *, created: bool) -> Any:
    browser_session[ONE_TIME] = [user.username, user.role.value, password, created]
    return redirect(url_for(".get_one_time_password"), 303)


@blueprint.get("/staff/one-time-password")
@admin_required
async def get_one_time_password() -> Any:
    shown = browser_session.pop(ONE_TIME, None)
    if not (isinstance(shown, list) and len(shown) == 4):
        await flash("A one-time password is shown once: reset the password again for a new one.")
        return redirect(url_for(".get_staff"), 303)
    username, role, password, created = shown
    html = await render_template(
        "staff_password.html",
        username=username,
        role=role,
        password=password,
        created=bool(created),
    )
    return html, 200, NO_STORE


@blueprint.get("/staff")
@admin_required
async def get_staff() -> Any:
    return await render_staff()


@blueprint.post("/staff")
@admin_required
async def post_staff() -> Any:
    staff = await signed_in()
    form = await request.form
    typed = {"username": form.get("username", "")[:100], "role": form.get("role", "agent")[:20]}
    password = passwords.generate_password()
    try:
        async with services().db.transaction() as session:
            user = await users.create_user(
                session,
                typed["username"],
                password,
                typed["role"],
                actor=actor_of(staff),
                one_time=True,
            )
    except ProxyError as error:
        errors = {error_field(error, "username"): error.message}
        return await render_staff(errors=errors, typed=typed, status=error.status)
    return show_one_time_password(user, password, created=True)


Change = Callable[[AsyncSession], Awaitable[StaffUser]]


async def _change(
    username: str, work: Change, done: Callable[[StaffUser], str], *, then: str | None = None
) -> Any:
    try:
        async with services().db.transaction() as session:
            user = await work(session)
    except ProxyError as error:
        key = users.normalize_username(username)
        return await render_staff(row_errors={key: error.message}, status=error.status)
    await flash(done(user), "success")
    return redirect(then or url_for(".get_staff"), 303)


@blueprint.post("/staff/<username>/active")
@admin_required
async def post_staff_active(username: str) -> Any:
    staff = await signed_in()
    active = (await request.form).get("active") == "yes"

    async def work(session: AsyncSession) -> StaffUser:
        return await users.set_active(
            session, username, active, actor=actor_of(staff), by=staff.username
        )

    if active:
        return await _change(username, work, lambda u: f"{u.username} can log in again.")
    return await _change(
        username, work, lambda u: f"{u.username} is disabled and logged out everywhere."
    )


@blueprint.post("/staff/<username>/role")
@admin_required
async def post_staff_role(username: str) -> Any:
    staff = await signed_in()
    role = (await request.form).get("role", "")[:20]

    async def work(session: AsyncSession) -> StaffUser:
        return await users.set_role(session, username, role, actor=actor_of(staff))

    # This page is for admins only: one who gives up the role goes somewhere still open.
    gives_up_admin = users.normalize_username(username) == staff.username and role != Role.admin
    then = url_for("dashboard.chats.get_chats") if gives_up_admin else None
    return await _change(
        username, work, lambda u: f"{u.username} is now an {u.role.value}.", then=then
    )


@blueprint.post("/staff/<username>/password")
@admin_required
async def post_staff_password(username: str) -> Any:
    staff = await signed_in()
    try:
        async with services().db.transaction() as session:
            user, password = await users.reset_password(
                session, username, actor=actor_of(staff), by=staff.username
            )
    except ProxyError as error:
        key = users.normalize_username(username)
        return await render_staff(row_errors={key: error.message}, status=error.status)
    return show_one_time_password(user, password, created=False)

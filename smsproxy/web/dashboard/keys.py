"""API keys (admins only): create one (shown once), see them all, revoke."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart import session as browser_session

from ...errors import ProxyError
from ...proxy import keys
from .. import services
from ..guards import admin_required
from .base import FormErrors, actor_of, error_field, signed_in

blueprint = Blueprint("keys", __name__)

NO_STORE = {"Cache-Control": "no-store"}


async def render_keys(
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    created: tuple[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int, dict[str, str]]:
    """`created` is (name, key) right after creation: the only time the key is shown."""
    async with services().db.read() as session:
        found = await keys.list_keys(session)
    html = await render_template(
        "api_keys.html",
        keys=list(reversed(found)),
        errors=errors or {},
        typed=typed or {},
        created=created,
    )
    return html, status, NO_STORE


# The key just created, kept in this browser's session cookie (signed, HttpOnly) for the
# one page that shows it: the form redirects there, so reloading that page neither
# creates a second key nor shows this one again.
NEW_KEY = "new_api_key"


@blueprint.get("/api-keys")
@admin_required
async def get_keys() -> Any:
    created = browser_session.pop(NEW_KEY, None)
    if isinstance(created, list) and len(created) == 2:
        return await render_keys(created=(str(created[0]), str(created[1])))
    return await render_keys()


@blueprint.post("/api-keys")
@admin_required
async def post_key() -> Any:
    staff = await signed_in()
    form = await request.form
    name = form.get("name", "")[:200]
    can_reveal = form.get("can_reveal") == "yes"
    try:
        async with services().db.transaction() as session:
            record, key = await keys.create_key(
                session, name, actor=actor_of(staff), can_reveal=can_reveal
            )
    except ProxyError as error:
        errors = {error_field(error, "name"): error.message}
        typed = {"name": name, "can_reveal": "yes" if can_reveal else ""}
        return await render_keys(errors=errors, typed=typed, status=error.status)
    # Post/redirect/get: the key waits in the signed session for exactly one render, so
    # a reload shows nothing and creates nothing.
    browser_session[NEW_KEY] = [record.name, key]
    return redirect(url_for(".get_keys"), 303)


@blueprint.post("/api-keys/<int:key_id>/revoke")
@admin_required
async def post_key_revoke(key_id: int) -> Any:
    staff = await signed_in()
    try:
        async with services().db.transaction() as session:
            record = await keys.revoke_key(session, str(key_id), actor=actor_of(staff))
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(url_for(".get_keys"), 303)
    await flash(
        f"Key {record.prefix}… ({record.name}) is revoked: it stops working now.", "success"
    )
    return redirect(url_for(".get_keys"), 303)

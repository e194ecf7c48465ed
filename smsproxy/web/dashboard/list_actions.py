"""The chat list's own forms: a change to the selected chats, and saved views.

Plain forms that come back to the list they were sent from (POST, redirect, GET), so
they work without scripts."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, request, url_for

from ...errors import ProxyError
from ...proxy.bulk import BulkChange, apply_to_chats
from ...proxy.saved_views import delete_view, save_view
from .. import services, settings
from ..guards import staff_required
from .base import actor_of, signed_in
from .triage import is_list_or_chat_path

blueprint = Blueprint("list_actions", __name__)


def back_to_list(form: Any) -> str:
    raw = form.get("next", "")
    if is_list_or_chat_path(raw):
        return str(raw)
    return url_for("dashboard.chats.get_chats")


def selected(form: Any) -> list[str]:
    """The ticked chats, and with "select all shown" every chat the page showed."""
    chosen = [value[:40] for value in form.getlist("chat")]
    if form.get("all_shown"):
        chosen += [value[:40] for value in form.getlist("shown")]
    return chosen


@blueprint.post("/chats/bulk")
@staff_required
async def post_bulk() -> Any:
    staff = await signed_in()
    form = await request.form
    change = BulkChange(
        action=form.get("action", "")[:20],
        assignee=form.get("assignee", "")[:64],
        label=form.get("label", "")[:200],
    )
    chats = selected(form)
    svc = services()
    try:
        async with svc.db.transaction() as session:
            changed = await apply_to_chats(
                session, chats, change, actor=actor_of(staff), templates=svc.templates
            )
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(back_to_list(form), 303)
    total = len(set(chats))
    done = {"close": "closed", "assign": "assigned", "label": "labelled"}[change.action]
    note = f" ({total - changed} already were)" if changed < total else ""
    await flash(f"{changed} of {total} chat{'s' if total != 1 else ''} {done}{note}.", "success")
    return redirect(back_to_list(form), 303)


@blueprint.post("/chats/views")
@staff_required
async def post_saved_view() -> Any:
    """Save `query` (the list's query string) under `name`."""
    staff = await signed_in()
    form = await request.form
    try:
        async with services().db.transaction() as session:
            view = await save_view(
                session,
                staff.id,
                form.get("name", "")[:200],
                form.get("query", "")[:1000],
                actor=actor_of(staff),
                default_region=settings().default_region,
            )
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(back_to_list(form), 303)
    await flash(f"Saved the view “{view.name}”.", "success")
    return redirect(url_for("dashboard.chats.get_chats") + "?" + view.query, 303)


@blueprint.post("/chats/views/<int:view_id>/delete")
@staff_required
async def post_delete_view(view_id: int) -> Any:
    staff = await signed_in()
    form = await request.form
    try:
        async with services().db.transaction() as session:
            view = await delete_view(session, staff.id, view_id, actor=actor_of(staff))
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(back_to_list(form), 303)
    await flash(f"Deleted the view “{view.name}”.", "success")
    return redirect(back_to_list(form), 303)

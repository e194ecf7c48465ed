"""Triage from the chat page and the list: take a chat, give it to a colleague or to
nobody, put labels on it and take them off.

Plain forms (POST, then back where the form was), so every button works without
scripts; live events bring the change to every open list and chat page.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, request, url_for

from ...errors import ProxyError
from ...proxy.assignment import assign_chat, find_assignee
from ...proxy.labels import add_label, remove_label
from ...proxy.queries import get_chat
from .. import services
from ..auth import safe_next
from ..guards import staff_required
from .base import actor_of, signed_in

blueprint = Blueprint("triage", __name__)


def is_list_or_chat_path(raw: str) -> bool:
    """A path of the chat list or a chat page on this site, with nothing to resolve."""
    path = raw.split("?", 1)[0]
    return (
        (path == "/chats" or path.startswith("/chats/"))
        and safe_next(raw) == raw
        and ".." not in path.split("/")
        and "." not in path.split("/")
    )


def back_to(form: Any, chat_id: str) -> str:
    """Where the form came from (a list page, the chat page); the chat page otherwise."""
    raw = form.get("next", "")
    if is_list_or_chat_path(raw):
        return str(raw)
    return url_for("dashboard.chat.get_chat_page", chat_id=chat_id)


@blueprint.post("/chats/<chat_id>/assignee")
@staff_required
async def post_assignee(chat_id: str) -> Any:
    """`assignee`: a username, or empty for nobody; `take` assigns the signed-in user."""
    staff = await signed_in()
    form = await request.form
    wanted = staff.username if form.get("take") else form.get("assignee", "")[:64]
    try:
        async with services().db.transaction() as session:
            view = await get_chat(session, chat_id)
            assignee = await find_assignee(session, wanted)
            changed = await assign_chat(session, view.chat, assignee, actor=actor_of(staff))
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(back_to(form, chat_id), 303)
    if not changed:
        await flash("Nothing changed: the chat was already so assigned.", "info")
    elif assignee is None:
        await flash("The chat is unassigned.", "success")
    elif assignee.id == staff.id:
        await flash("You took the chat.", "success")
    else:
        await flash(f"The chat is assigned to {assignee.username}.", "success")
    return redirect(back_to(form, chat_id), 303)


@blueprint.post("/chats/<chat_id>/labels")
@staff_required
async def post_label(chat_id: str) -> Any:
    """Add `label`, or with `remove` set take that label off."""
    staff = await signed_in()
    form = await request.form
    raw = form.get("label", "")[:200]
    removing = bool(form.get("remove"))
    try:
        async with services().db.transaction() as session:
            view = await get_chat(session, chat_id)
            change = remove_label if removing else add_label
            changed = await change(session, view.chat, raw, actor=actor_of(staff))
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(back_to(form, chat_id), 303)
    if changed:
        await flash("Label removed." if removing else "Label added.", "success")
    else:
        why = "the chat has no such label." if removing else "the chat already has it."
        await flash(f"Nothing changed: {why}", "info")
    return redirect(back_to(form, chat_id), 303)

"""Canned replies: every staff member reads them (and inserts them in the composer with
`/`); admins add, change and delete them."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for

from ...errors import ProxyError
from ...proxy import canned
from .. import services
from ..guards import admin_required, staff_required
from .base import FormErrors, actor_of, error_field, signed_in

blueprint = Blueprint("canned", __name__)


async def render_replies(
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    editing: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """`editing`: the reply whose edit form `errors` and `typed` belong to (None: the
    add form)."""
    async with services().db.read() as session:
        replies = await canned.list_replies(session)
    html = await render_template(
        "canned_replies.html",
        replies=replies,
        errors=errors or {},
        typed=typed or {},
        editing=editing,
        max_title=canned.MAX_TITLE_LENGTH,
        max_body=canned.MAX_REPLY_LENGTH,
    )
    return html, status


@blueprint.get("/canned-replies")
@staff_required
async def get_canned_replies() -> Any:
    return await render_replies()


@blueprint.get("/canned-replies/options")
@staff_required
async def get_reply_options() -> Any:
    """The replies as JSON, for the composer's `/` list."""
    async with services().db.read() as session:
        replies = await canned.list_replies(session)
    found = [{"id": r.public_id, "title": r.title, "body": r.body} for r in replies]
    return {"replies": found}, 200, {"Cache-Control": "no-store"}


async def _form() -> tuple[str, str]:
    form = await request.form
    return form.get("title", "")[:400], form.get("body", "")[:4000]


@blueprint.post("/canned-replies")
@admin_required
async def post_canned_reply() -> Any:
    staff = await signed_in()
    title, body = await _form()
    try:
        async with services().db.transaction() as session:
            reply = await canned.add_reply(session, title, body, actor=actor_of(staff))
    except ProxyError as error:
        errors = {error_field(error, "title"): error.message}
        return await render_replies(
            errors=errors, typed={"title": title, "body": body}, status=error.status
        )
    await flash(
        f"Canned reply “{reply.title}” added: type / and its title in a chat's message box.",
        "success",
    )
    return redirect(url_for(".get_canned_replies"), 303)


@blueprint.post("/canned-replies/<reply_id>")
@admin_required
async def post_canned_reply_change(reply_id: str) -> Any:
    staff = await signed_in()
    title, body = await _form()
    try:
        async with services().db.transaction() as session:
            reply = await canned.change_reply(session, reply_id, title, body, actor=actor_of(staff))
    except ProxyError as error:
        if error.status == 404:
            await flash(error.message, "error")
            return redirect(url_for(".get_canned_replies"), 303)
        errors = {error_field(error, "title"): error.message}
        typed = {"title": title, "body": body}
        return await render_replies(
            errors=errors, typed=typed, editing=reply_id, status=error.status
        )
    await flash(f"Canned reply “{reply.title}” saved.", "success")
    return redirect(url_for(".get_canned_replies"), 303)


@blueprint.post("/canned-replies/<reply_id>/delete")
@admin_required
async def post_canned_reply_delete(reply_id: str) -> Any:
    staff = await signed_in()
    try:
        async with services().db.transaction() as session:
            reply = await canned.delete_reply(session, reply_id, actor=actor_of(staff))
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(url_for(".get_canned_replies"), 303)
    await flash(f"Canned reply “{reply.title}” deleted.", "success")
    return redirect(url_for(".get_canned_replies"), 303)

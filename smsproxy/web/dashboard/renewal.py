"""A chat page's second wind: reopen a closed chat, give a live one more time; and the
unread count every page's title and navigation show."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for

from ...errors import ProxyError
from ...proxy import inbox
from ...proxy.chats import retry_on_route_conflict
from ...proxy.queries import get_chat
from ...proxy.renewal import Extension, extend_chat, reopen_chat
from .. import services
from ..guards import staff_required
from .base import InvalidForm, actor_of, error_field, fragment, signed_in
from .chat import render_chat
from .new_chat import TTL_CHOICES, local_expiry

blueprint = Blueprint("renewal", __name__)

# The quick extensions the chat page offers, in seconds.
EXTEND_BY = {"3600": "1 hour", "86400": "24 hours", "604800": "7 days"}
KEEP_TTL = "keep"


@blueprint.app_context_processor
def renewal_choices() -> dict[str, Any]:
    return {
        "extend_by": EXTEND_BY,
        "ttl_choices_idle": TTL_CHOICES,
        "keep_ttl": KEEP_TTL,
        "unread_total": unread_total,
    }


async def unread_total() -> int:
    """The signed-in person's unread texts in active chats (the navigation's count)."""
    staff = await signed_in()
    async with services().db.read() as session:
        return await inbox.total_unread(session, staff.id)


@blueprint.get("/chats/unread")
@staff_required
async def get_unread() -> Any:
    """Participants' texts unread to the signed-in person in active chats (JSON)."""
    return {"unread": await unread_total(), "cap": inbox.UNREAD_CAP + 1}


@blueprint.post("/chats/<chat_id>/reopen")
@staff_required
async def post_reopen(chat_id: str) -> Any:
    staff = await signed_in()

    async def reopen(session: Any) -> None:
        await reopen_chat(session, chat_id, actor=actor_of(staff))

    try:
        await retry_on_route_conflict(services().db, reopen)
    except ProxyError as error:
        return await render_chat(chat_id, errors={"reopen": error.message}, status=error.status)
    await flash("Chat reopened: everyone texts the same number as before.", "success")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


def _extension(form: Any) -> Extension:
    by = form.get("by", "")
    if by and by not in EXTEND_BY:
        raise InvalidForm("Choose one of the extensions offered", field="by")
    ttl = form.get("ttl", KEEP_TTL)
    if ttl != KEEP_TTL and ttl not in {value for value, _ in TTL_CHOICES}:
        raise InvalidForm("Choose one of the idle limits offered", field="ttl")
    expires_at = None if by else local_expiry(form.get("expires_at", ""), form.get("tz_offset", ""))
    return Extension(
        by_seconds=int(by) if by else None,
        expires_at=expires_at,
        ttl_seconds=int(ttl) if ttl not in (KEEP_TTL, "") else None,
        clear_ttl=ttl == "",
    )


@blueprint.post("/chats/<chat_id>/extend")
@staff_required
async def post_extend(chat_id: str) -> Any:
    staff = await signed_in()
    form = await request.form
    try:
        extension = _extension(form)
        async with services().db.transaction() as session:
            await extend_chat(session, chat_id, extension, actor=actor_of(staff))
    except ProxyError as error:
        field = error_field(error, "extend")
        return await render_chat(
            chat_id, errors={f"extend_{field}": error.message}, status=error.status
        )
    await flash("Chat extended.", "success")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


@blueprint.get("/chats/<chat_id>/terms")
@staff_required
async def get_terms(chat_id: str) -> Any:
    """The chat page's details (expiry, idle limit), for its live refresh."""
    async with services().db.read() as session:
        view = await get_chat(session, chat_id)
    html = await render_template(
        "chats/_terms.html", chat=view.chat, is_active=view.chat.status == "active"
    )
    return fragment(html)

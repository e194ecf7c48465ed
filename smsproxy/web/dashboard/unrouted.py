"""SMS that reached a proxy number with no active chat for their sender: the ones still
waiting for staff, and those handled or dismissed."""

from __future__ import annotations

from typing import Any

from quart import (
    Blueprint,
    flash,
    redirect,
    render_template,
    render_template_string,
    request,
    url_for,
)
from werkzeug.exceptions import BadRequest

from ...errors import ProxyError
from ...phone import is_alphanumeric_sender
from ...proxy import unrouted_inbox
from ...proxy.unrouted_inbox import UnroutedView
from .. import services
from ..guards import staff_required
from .base import event_position, fragment, query_value, signed_in

blueprint = Blueprint("unrouted", __name__)

VIEWS = [
    (UnroutedView.waiting, "Waiting"),
    (UnroutedView.handled, "Handled"),
    (UnroutedView.dismissed, "Dismissed"),
    (UnroutedView.all, "All"),
]


@blueprint.app_template_test("alphanumeric_sender")
def alphanumeric_sender(sender: str | None) -> bool:
    """`{% if number is alphanumeric_sender %}`: a company's sender ID ("MyBank"), not
    personal data and not a number anyone can text."""
    return is_alphanumeric_sender(sender)


async def waiting_count() -> int:
    async with services().db.read() as session:
        return await unrouted_inbox.count_waiting(session)


@blueprint.app_context_processor
async def navigation_counts() -> dict[str, Any]:
    # A function, not a number: only the pages that show the navigation call it (not
    # the fragments live scripts fetch), so they alone pay for the count.
    return {"unrouted_waiting": waiting_count, "count_cap": unrouted_inbox.COUNT_CAP}


def view_arg() -> UnroutedView:
    try:
        return unrouted_inbox.parse_view(query_value("view", limit=20))
    except ProxyError as error:
        raise BadRequest(error.message) from None


@blueprint.get("/unrouted")
@staff_required
async def get_unrouted() -> Any:
    view = view_arg()
    cursor = query_value("cursor", limit=100) or None
    async with services().db.read() as session:
        position = await event_position(session)
        messages, next_cursor = await unrouted_inbox.list_unrouted(
            session, view=view, cursor=cursor
        )
    return await render_template(
        "unrouted.html",
        messages=messages,
        view=view.value,
        views=VIEWS,
        cursor=cursor,
        next_cursor=next_cursor,
        last_event_id=position,
    )


@blueprint.get("/unrouted/count")
@staff_required
async def get_unrouted_count() -> Any:
    """How many wait for staff (up to the cap), for the navigation's badge."""
    return {"waiting": await waiting_count(), "cap": unrouted_inbox.COUNT_CAP}


@blueprint.get("/unrouted/<message_id>/row")
@staff_required
async def get_unrouted_row(message_id: str) -> Any:
    """One row, for the live script; 204 when it no longer belongs to the page's view."""
    view = view_arg()
    async with services().db.read() as session:
        message = await unrouted_inbox.get_unrouted(session, message_id)
    if not unrouted_inbox.in_view(message, view):
        return "", 204
    html = await render_template_string(
        '{% from "macros.html" import unrouted_row %}{{ unrouted_row(message, view) }}',
        message=message,
        view=view.value,
    )
    return fragment(html)


STATE_NOTES = {
    "handled": "Marked handled.",
    "dismissed": "Dismissed.",
    "waiting": "Back among the waiting ones.",
}


@blueprint.post("/unrouted/<message_id>/state")
@staff_required
async def post_unrouted_state(message_id: str) -> Any:
    staff = await signed_in()
    form = await request.form
    raw = form.get("state", "")[:20]
    back = form.get("view", "")[:20]
    view = back if back in {v.value for v, _ in VIEWS} else UnroutedView.waiting.value
    try:
        state = unrouted_inbox.parse_state(raw)
        async with services().db.transaction() as session:
            await unrouted_inbox.set_state(session, message_id, state, by=staff.username)
    except ProxyError as error:
        await flash(error.message, "error")
        return redirect(url_for(".get_unrouted", view=view), 303)
    await flash(STATE_NOTES.get(raw, "Saved."), "success")
    return redirect(url_for(".get_unrouted", view=view), 303)

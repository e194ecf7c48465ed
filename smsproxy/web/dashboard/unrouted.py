"""SMS that reached a proxy number with no active chat for their sender."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template, render_template_string

from ...phone import is_alphanumeric_sender
from ...proxy import inbox
from .. import services
from ..guards import staff_required
from .base import event_position, fragment, query_value

blueprint = Blueprint("unrouted", __name__)


@blueprint.app_template_test("alphanumeric_sender")
def alphanumeric_sender(sender: str | None) -> bool:
    """`{% if number is alphanumeric_sender %}`: a company's sender ID ("MyBank"), not
    personal data and not a number anyone can text."""
    return is_alphanumeric_sender(sender)


@blueprint.get("/unrouted")
@staff_required
async def get_unrouted() -> Any:
    cursor = query_value("cursor", limit=100) or None
    async with services().db.read() as session:
        position = await event_position(session)
        messages, next_cursor = await inbox.list_unrouted(session, cursor=cursor)
    return await render_template(
        "unrouted.html",
        messages=messages,
        cursor=cursor,
        next_cursor=next_cursor,
        last_event_id=position,
    )


@blueprint.get("/unrouted/<message_id>/row")
@staff_required
async def get_unrouted_row(message_id: str) -> Any:
    """One row, for the live script."""
    async with services().db.read() as session:
        message = await inbox.get_unrouted(session, message_id)
    html = await render_template_string(
        '{% from "macros.html" import unrouted_row %}{{ unrouted_row(message) }}',
        message=message,
    )
    return fragment(html)

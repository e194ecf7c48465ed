"""The chat list: newest activity first, filtered and searched, updated live."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, make_response, render_template, request
from sqlmodel import select
from werkzeug.exceptions import BadRequest

from ...models import Chat, ChatStatus, ProxyNumber
from ...proxy.inbox import ChatFilter, chat_row, search_chats
from .. import services, settings
from ..guards import Staff, staff_required
from .base import event_position, fragment, query_value, signed_in

blueprint = Blueprint("chats", __name__)

STATUSES = {"active": ChatStatus.active, "closed": ChatStatus.closed, "all": None}


def chat_filter() -> tuple[str, ChatFilter]:
    status = query_value("status", "active", 10) or "active"
    if status not in STATUSES:
        raise BadRequest("status must be active, closed or all")
    text = query_value("q").strip()
    return status, ChatFilter(STATUSES[status], text, settings().default_region)


DENSITIES = ("comfortable", "compact")
DENSITY_COOKIE = "chat_list_density"


def density() -> tuple[str, bool]:
    """The list's density: asked for by a link (`?density=`, remembered), else the one
    remembered. Returns it and whether to remember it."""
    asked = query_value("density", limit=20)
    if asked in DENSITIES:
        return asked, True
    remembered = request.cookies.get(DENSITY_COOKIE, "")
    return (remembered if remembered in DENSITIES else DENSITIES[0]), False


@blueprint.get("/chats")
@staff_required
async def get_chats() -> Any:
    staff = await signed_in()
    chosen, remember = density()
    response = await make_response(await _render_chats(staff, chosen))
    if remember:
        response.set_cookie(
            DENSITY_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            secure=request.scheme == "https",
        )
    return response


async def _render_chats(staff: Staff, chosen: str) -> str:
    status, search = chat_filter()
    cursor = query_value("cursor", limit=300) or None
    async with services().db.read() as session:
        position = await event_position(session)
        rows, next_cursor = await search_chats(
            session, search, staff_user_id=staff.id, cursor=cursor
        )
        setup = None
        if not rows and not cursor:
            setup = {
                "has_chats": (await session.exec(select(Chat.id).limit(1))).first() is not None,
                "has_numbers": (await session.exec(select(ProxyNumber.id).limit(1))).first()
                is not None,
            }
    return await render_template(
        "chats/list.html",
        rows=rows,
        status=status,
        q=search.text,
        cursor=cursor,
        next_cursor=next_cursor,
        setup=setup,
        density=chosen,
        last_event_id=position,
    )


@blueprint.get("/chats/<chat_id>/row")
@staff_required
async def get_chat_row(chat_id: str) -> Any:
    """One row of the list, for the live script; 204 when the chat no longer matches
    the page's filter."""
    staff = await signed_in()
    _, search = chat_filter()
    async with services().db.read() as session:
        row = await chat_row(session, chat_id, search, staff_user_id=staff.id)
    if row is None:
        return "", 204
    html = await render_template("chats/_row.html", row=row)
    return fragment(html)

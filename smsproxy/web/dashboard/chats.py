"""The chat list: newest activity first, filtered and searched, updated live."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, make_response, render_template, request, url_for
from sqlmodel import select
from werkzeug.exceptions import BadRequest

from ...errors import ProxyError
from ...models import Chat, ProxyNumber
from ...proxy.assignment import assignable_staff
from ...proxy.chat_counts import filter_counts
from ...proxy.chat_filter import ChatFilter, parse_chat_filter
from ...proxy.inbox import chat_row, search_chats
from ...proxy.saved_views import views_of
from .. import services, settings
from ..guards import Staff, staff_required
from .base import event_position, fragment, query_value, signed_in

blueprint = Blueprint("chats", __name__)


def chat_filter() -> ChatFilter:
    """The list's filter from the query string (see proxy.chat_filter); a bad value is a
    400 that says which."""
    try:
        return parse_chat_filter(request.args, settings().default_region)
    except ProxyError as error:
        raise BadRequest(error.message) from None


def list_url(search: ChatFilter, **changes: str | None) -> str:
    """The list with `search`, some of its parameters changed (empty or None: dropped)."""
    values: dict[str, Any] = {**search.query(), **changes}
    if values.get("view") == "all":
        del values["view"]
    kept = {name: value for name, value in values.items() if value}
    return url_for("dashboard.chats.get_chats", **kept)


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
    search = chat_filter()
    cursor = query_value("cursor", limit=300) or None
    async with services().db.read() as session:
        position = await event_position(session)
        rows, next_cursor = await search_chats(
            session, search, staff_user_id=staff.id, cursor=cursor
        )
        counts = await filter_counts(session, search, staff.id)
        saved = await views_of(session, staff.id)
        staff_list = await assignable_staff(session)
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
        search=search,
        status=search.status_name,
        q=search.text,
        list_url=list_url(search, cursor=cursor),
        link=partial(list_url, search),
        counts=counts,
        saved_views=saved,
        staff_list=staff_list,
        current_query=urlencode(search.query()),
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
    search = chat_filter()
    async with services().db.read() as session:
        row = await chat_row(session, chat_id, search, staff_user_id=staff.id)
    if row is None:
        return "", 204
    html = await render_template("chats/_row.html", row=row, list_url=list_url(search))
    return fragment(html)

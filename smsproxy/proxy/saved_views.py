"""Chat-list filters a staff member keeps under a name: their own, shown beside the
list. The query string is stored as `ChatFilter.query()` writes it, so a saved view is
exactly a link to the list."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import InvalidInput, NotFound
from ..models import SavedView
from . import audit
from .chat_filter import parse_chat_filter

MAX_NAME = 64
MAX_VIEWS = 50


def check_name(raw: str | None) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise InvalidInput("Name the view: 1 to 64 characters", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"A view's name is at most {MAX_NAME} characters", field="name")
    return name


def canonical_query(raw: str, default_region: str | None) -> str:
    """The filter in `raw` (a query string), checked and written the one way."""
    search = parse_chat_filter(dict(parse_qsl(raw.lstrip("?"))), default_region)
    return urlencode(search.query())


async def views_of(session: AsyncSession, staff_user_id: int) -> list[SavedView]:
    query = (
        select(SavedView)
        .where(col(SavedView.staff_user_id) == staff_user_id)
        .order_by(func.lower(SavedView.name), col(SavedView.id))
    )
    return list((await session.exec(query)).all())


async def save_view(
    session: AsyncSession,
    staff_user_id: int,
    name: str,
    raw_query: str,
    *,
    actor: str,
    default_region: str | None,
) -> SavedView:
    """Save the filter under `name`; a view of the same name is replaced."""
    name = check_name(name)
    query = canonical_query(raw_query, default_region)
    mine = await views_of(session, staff_user_id)
    view = next((v for v in mine if v.name.lower() == name.lower()), None)
    if view is None:
        if len(mine) >= MAX_VIEWS:
            raise InvalidInput(f"You can keep {MAX_VIEWS} views: delete one first", field="name")
        view = SavedView(staff_user_id=staff_user_id, name=name, query=query)
    view.name, view.query = name, query
    session.add(view)
    await session.flush()
    audit.record(session, actor=actor, action="view.save", target=f"view:{view.id}")
    return view


async def delete_view(
    session: AsyncSession, staff_user_id: int, view_id: int, *, actor: str
) -> SavedView:
    view = await session.get(SavedView, view_id)
    if view is None or view.staff_user_id != staff_user_id:
        raise NotFound("No such saved view of yours")
    await session.delete(view)
    audit.record(session, actor=actor, action="view.delete", target=f"view:{view_id}")
    return view

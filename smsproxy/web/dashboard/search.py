"""Searching every chat's messages, by words or by a phone number; each hit links to
the message inside its chat."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template

from ...errors import ProxyError
from ...proxy.search import search_messages
from ...proxy.search_text import MAX_QUERY_LENGTH
from .. import services, settings
from ..guards import staff_required
from .base import query_value

blueprint = Blueprint("search", __name__)


@blueprint.get("/search")
@staff_required
async def get_search() -> Any:
    # Read past the limit, so that an overlong query is refused with a message rather
    # than cut and searched.
    query = query_value("q", limit=MAX_QUERY_LENGTH * 4).strip()
    cursor = query_value("cursor", limit=100) or None
    results, error = None, None
    if query:
        try:
            async with services().db.read() as session:
                results = await search_messages(
                    session, query, default_region=settings().default_region, cursor=cursor
                )
        except ProxyError as refused:
            error = refused.message
    html = await render_template(
        "search.html",
        q=query,
        cursor=cursor,
        results=results,
        error=error,
        max_length=MAX_QUERY_LENGTH,
    )
    return html, 400 if error else 200

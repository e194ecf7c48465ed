"""The numbers that opted out of SMS from every proxy number, and how (masked)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template

from ...errors import ProxyError
from ...proxy.optouts import list_opt_outs
from .. import services
from ..guards import staff_required
from .base import query_value

blueprint = Blueprint("optouts", __name__)

PAGE_SIZE = 100


@blueprint.get("/opt-outs")
@staff_required
async def get_opt_outs() -> Any:
    cursor = query_value("cursor", limit=100) or None
    try:
        async with services().db.read() as session:
            page = await list_opt_outs(session, cursor=cursor, limit=PAGE_SIZE)
    except ProxyError:
        # A cursor edited by hand: start again from the newest.
        cursor = None
        async with services().db.read() as session:
            page = await list_opt_outs(session, limit=PAGE_SIZE)
    return await render_template("optouts.html", page=page, cursor=cursor)

"""Downloads from the dashboard: a chat's transcript, and the chat list as filtered."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from ...errors import NotFound
from ...proxy import audit, queries
from ...proxy.exports import count_chats
from .. import services
from ..api.transcripts import entry_json
from ..exports import FORMATS, chat_list_download, transcript_download
from ..guards import staff_required
from .base import actor_of, signed_in
from .chats import chat_filter

blueprint = Blueprint("exports", __name__)


@blueprint.get("/chats/<chat_id>/transcript.<format>")
@staff_required
async def get_transcript(chat_id: str, format: str) -> Any:
    if format not in FORMATS:
        raise NotFound(f"A transcript downloads as .csv or .json, not .{format}")
    staff = await signed_in()
    async with services().db.transaction() as session:
        view = await queries.get_chat(session, chat_id)
        audit.record(
            session,
            actor=actor_of(staff),
            action="chat.export",
            target=view.chat.public_id,
            detail={"format": format},
        )
    return transcript_download(view, format, entry_json)


@blueprint.get("/chats/export.csv")
@staff_required
async def get_chats_csv() -> Any:
    """The chats the list shows with the same query string, every page of them."""
    staff = await signed_in()
    search = chat_filter()
    assert staff.id is not None
    async with services().db.transaction() as session:
        count = await count_chats(session, search, staff.id)
        # The count and the filter's shape, never the search text (it may be a number).
        audit.record(
            session,
            actor=actor_of(staff),
            action="chats.export",
            detail={"count": count, "status": search.status_name, "searched": bool(search.text)},
        )
    return chat_list_download(search, staff.id)

"""Private notes on the chat page: staff write them for each other; they are never sent.

The composer's note mode (posted with its messages, see `chat.post_message`) and a
closed chat's note form: plain forms, so they work without scripts; the chat page's
script posts them with fetch and every open chat page shows the note live
(`note.created`).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template, request

from ...proxy import notes
from ...proxy.queries import get_chat
from ...proxy.transcripts import NoteEntry
from .. import services
from ..guards import staff_required
from .base import fragment
from .chat import keep_note

blueprint = Blueprint("notes", __name__)


@blueprint.post("/chats/<chat_id>/notes")
@staff_required
async def post_note(chat_id: str) -> Any:
    """The note form of a closed chat (an active chat's composer has a note mode)."""
    form = await request.form
    return await keep_note(chat_id, form.get("note", ""), field="note")


@blueprint.get("/chats/<chat_id>/notes/<note_id>")
@staff_required
async def get_note(chat_id: str, note_id: str) -> Any:
    """One note card, for the live script to insert."""
    async with services().db.read() as session:
        view = await get_chat(session, chat_id)
        note = await notes.get_note(session, view.chat, note_id)
    html = await render_template("chats/_note.html", entry=NoteEntry(note))
    return fragment(html)

"""Private notes on the chat page: staff write them for each other; they are never sent.

A plain form, so it works without scripts; the chat page's script posts it with
fetch and every open chat page shows the new note live (`note.created`).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for

from ...errors import ProxyError
from ...proxy import notes
from ...proxy.queries import get_chat
from ...proxy.transcripts import NoteEntry
from .. import services
from ..guards import staff_required
from .base import actor_of, fetch_wants_json, fragment, json_form_error, signed_in
from .chat import render_chat

blueprint = Blueprint("notes", __name__)


@blueprint.post("/chats/<chat_id>/notes")
@staff_required
async def post_note(chat_id: str) -> Any:
    staff = await signed_in()
    form = await request.form
    body = form.get("note", "")
    try:
        async with services().db.transaction() as session:
            note = await notes.add_note(
                session,
                chat_id,
                body,
                author=staff.username,
                staff_user_id=staff.id,
                actor=actor_of(staff),
            )
    except ProxyError as error:
        # The form's field is "note" (the API's is "body").
        if fetch_wants_json():
            return json_form_error({"note": error.message}, error.status)
        return await render_chat(
            chat_id, errors={"note": error.message}, typed={"note": body}, status=error.status
        )
    if fetch_wants_json():
        return {"note_id": note.public_id}, 201
    await flash("Note kept. Only staff see it: it was not sent.", "success")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


@blueprint.get("/chats/<chat_id>/notes/<note_id>")
@staff_required
async def get_note(chat_id: str, note_id: str) -> Any:
    """One note card, for the live script to insert."""
    async with services().db.read() as session:
        view = await get_chat(session, chat_id)
        note = await notes.get_note(session, view.chat, note_id)
    html = await render_template("chats/_note.html", entry=NoteEntry(note))
    return fragment(html)

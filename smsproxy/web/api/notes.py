"""Private notes through the API: staff's notes on a chat, only for those who ask.

The transcript (`GET .../messages`) leaves notes out; integration events never carry
them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import request
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...models import ChatNote
from ...proxy import notes, queries
from ...proxy.notes import MAX_NOTE_LENGTH
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint, current_key
from .idempotency import idempotent


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length is checked by the rules (422 with a reason), not by the schema.
    body: str = Field(description=f"The note, 1 to {MAX_NOTE_LENGTH} characters")


class NoteOut(BaseModel):
    id: str
    author: str = Field(description='A staff username, or "API key <name>"')
    body: str = Field(description="The note as written (empty once erased)")
    created_at: datetime
    erased_at: datetime | None = Field(None, description="When the text was erased")


class NotePage(BaseModel):
    notes: list[NoteOut]


def note_out(note: ChatNote) -> NoteOut:
    return NoteOut(
        id=note.public_id,
        author=note.author,
        body=note.body,
        created_at=note.created_at,
        erased_at=note.erased_at,
    )


@blueprint.get("/chats/<chat_id>/notes")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(NotePage)
async def get_chat_notes(chat_id: str) -> NotePage:
    """Staff's private notes on a chat, oldest first (never sent, never in events)."""
    async with services().db.read() as session:
        view = await queries.get_chat(session, chat_id)
        found = await notes.notes_of(session, view.chat)
    return NotePage(notes=[note_out(n) for n in found])


@blueprint.post("/chats/<chat_id>/notes")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(NoteIn)
@validate_response(NoteOut, 201)
async def post_chat_note(chat_id: str, data: NoteIn) -> tuple[Any, ...]:
    """Keep a private note on a chat for staff: it is never sent as SMS."""

    async def keep(session: Any) -> tuple[dict[str, Any], int]:
        note = await notes.add_note(
            session,
            chat_id,
            data.body,
            author=f"API key {current_key().name}",
            staff_user_id=None,
            actor=actor(),
        )
        return note_out(note).model_dump(mode="json"), 201

    key = request.headers.get("Idempotency-Key")
    body = {"chat_id": chat_id, "note": data.model_dump(mode="json")}
    return await idempotent(services().db, current_key(), key, body, keep)

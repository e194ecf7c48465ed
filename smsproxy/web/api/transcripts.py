"""A chat's whole transcript as a file, through the API (CSV or JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from quart import Response
from quart_rate_limiter import rate_limit
from quart_schema import document_response, validate_querystring

from ...proxy import audit, queries
from ...proxy.transcripts import TranscriptEntry
from .. import services
from ..exports import transcript_download
from .base import API_LIMITS, actor, api_key_required, blueprint
from .chats import MessagePage, message_out
from .responses import also_answers


class TranscriptQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "json"] = Field(
        "json",
        description="json: every message as GET .../messages answers; csv: one row per "
        "message (time, direction, from, to, body, screening, deliveries), numbers masked",
    )


@blueprint.get("/chats/<chat_id>/transcript")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(TranscriptQuery)
@document_response(MessagePage)
@also_answers("text/csv")
async def get_chat_transcript(chat_id: str, query_args: TranscriptQuery) -> Response:
    """Download a chat's whole transcript, as JSON or CSV (audited)."""
    async with services().db.transaction() as session:
        view = await queries.get_chat(session, chat_id)
        audit.record(
            session,
            actor=actor(),
            action="chat.export",
            target=view.chat.public_id,
            detail={"format": query_args.format},
        )
    return transcript_download(view, query_args.format, entry_json)


def entry_json(entry: TranscriptEntry) -> str:
    """A message as GET /api/v1/chats/{id}/messages answers it."""
    return message_out(entry).model_dump_json()

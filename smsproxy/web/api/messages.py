"""Staff messages through the API: an integration writes into a chat."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import request
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...proxy.messages import MAX_BODY_LENGTH, TO_ALL, send_staff_message
from ...proxy.transcripts import TranscriptEntry
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint, current_key
from .chats import MessageOut, message_out
from .idempotency import idempotent


class StaffMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length is checked by the rules (422 with a reason), not by the schema.
    body: str = Field(description=f"The SMS text, 1 to {MAX_BODY_LENGTH} characters")
    to: str = Field(TO_ALL, description='"all" for every participant, or one participant\'s id')


@blueprint.post("/chats/<chat_id>/messages")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(StaffMessageIn)
@validate_response(MessageOut, 201)
async def post_chat_message(chat_id: str, data: StaffMessageIn) -> tuple[Any, ...]:
    """Send a message from staff into an active chat, to one participant or all."""
    svc = services()

    async def send(session: Any) -> tuple[dict[str, Any], int]:
        sent = await send_staff_message(
            session, chat_id, data.body, to=data.to, staff_user_id=None, actor=actor()
        )
        entry = TranscriptEntry(sent.message, None, sent.deliveries)
        return message_out(entry).model_dump(mode="json"), 201

    key = request.headers.get("Idempotency-Key")
    body = {"chat_id": chat_id, **data.model_dump(mode="json")}
    return await idempotent(svc.db, current_key(), key, body, send)

"""Changing a live chat's terms through the API: reference, TTL, expiry, metadata."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...proxy.edits import MAX_METADATA_BYTES, MAX_TTL_SECONDS, MIN_TTL_SECONDS, ChatChanges
from ...proxy.edits import update_chat as apply_changes
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint
from .chats import ChatOut, chat_out


class ChatPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str | None = Field(
        None, max_length=200, description="Your booking/order id; null clears it"
    )
    ttl_seconds: int | None = Field(
        None,
        ge=MIN_TTL_SECONDS,
        le=MAX_TTL_SECONDS,
        description="Close after this long without messages, counted from the last "
        "activity; null removes the idle limit",
    )
    expires_at: AwareDatetime | None = Field(
        None, description="Close at this time; null removes the limit"
    )
    metadata: dict[str, Any] | None = Field(
        None,
        description=f"Your own JSON object (at most {MAX_METADATA_BYTES} bytes), replacing "
        "the one kept; null clears it",
    )


@blueprint.patch("/chats/<chat_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(ChatPatch)
@validate_response(ChatOut)
async def patch_chat(chat_id: str, data: ChatPatch) -> ChatOut:
    """Change a chat's reference, idle TTL, expiry or metadata.

    Only the fields sent change; `null` clears one. A closed chat's reference and
    metadata may still change, its TTL and expiry not (409).
    """
    given = {name: getattr(data, name) for name in data.model_fields_set}
    changes = ChatChanges(**given)
    async with services().db.transaction() as session:
        view = await apply_changes(session, chat_id, changes, actor=actor())
    return chat_out(view)

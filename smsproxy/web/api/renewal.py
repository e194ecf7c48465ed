"""Reopening a closed chat and extending a live one through the API."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import document_request, validate_request, validate_response

from ...proxy.chats import retry_on_route_conflict
from ...proxy.edits import MAX_TTL_SECONDS, MIN_TTL_SECONDS
from ...proxy.renewal import MAX_EXTENSION_SECONDS, Extension, extend_chat, reopen_chat
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint, optional_body
from .chats import ChatOut, chat_out


class ChatReopen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: AwareDatetime | None = Field(
        None, description="A new absolute expiry; without one, a passed expiry is dropped"
    )


@blueprint.post("/chats/<chat_id>/reopen")
@rate_limit(limits=API_LIMITS)
@api_key_required
@document_request(ChatReopen)
@validate_response(ChatOut)
async def post_chat_reopen(chat_id: str) -> ChatOut:
    """Reopen a closed chat on the routes it had when it closed.

    Each participant gets back the proxy number they texted, so no SMS is sent. 409
    when the chat is active, or a participant's (number, proxy number) route is held by
    another active chat (the message names them, masked, and that chat) or the number
    left the pool. The idle limit counts again from now. The body is optional.
    """
    data = await optional_body(ChatReopen)

    async def reopen(session: Any) -> ChatOut:
        view = await reopen_chat(session, chat_id, actor=actor(), expires_at=data.expires_at)
        return chat_out(view)

    return await retry_on_route_conflict(services().db, reopen)


class ChatExtend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by_seconds: int | None = Field(
        None,
        ge=60,
        le=MAX_EXTENSION_SECONDS,
        description="Add this long to the chat's expiry (3600: one hour more); 409 when "
        "it has none",
    )
    expires_at: AwareDatetime | None = Field(
        None, description="Close at this time instead (not with by_seconds)"
    )
    ttl_seconds: int | None = Field(
        None,
        ge=MIN_TTL_SECONDS,
        le=MAX_TTL_SECONDS,
        description="A new idle limit, counted from the last activity; null removes it",
    )


@blueprint.post("/chats/<chat_id>/extend")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(ChatExtend)
@validate_response(ChatOut)
async def post_chat_extend(chat_id: str, data: ChatExtend) -> ChatOut:
    """Give a live chat more time: a later expiry and/or another idle limit.

    Send `by_seconds` or `expires_at`, and/or `ttl_seconds`. 409 when the chat is
    closed (reopen it first).
    """
    extension = Extension(
        by_seconds=data.by_seconds,
        expires_at=data.expires_at,
        ttl_seconds=data.ttl_seconds,
        clear_ttl="ttl_seconds" in data.model_fields_set and data.ttl_seconds is None,
    )
    async with services().db.transaction() as session:
        view = await extend_chat(session, chat_id, extension, actor=actor())
    return chat_out(view)

"""The unrouted inbox through the API: SMS that reached a number with no chat."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring, validate_response

from ...models import Message
from ...phone import is_alphanumeric_sender, mask
from ...proxy.unrouted_inbox import UnroutedView, list_unrouted
from .. import services
from .base import API_LIMITS, api_key_required, blueprint


class UnroutedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    view: UnroutedView = Field(
        UnroutedView.all, description="waiting (for staff), handled, dismissed, or all"
    )
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=200)


class UnroutedOut(BaseModel):
    id: str
    sender: str = Field(description="The sender's number, masked (a sender ID as sent)")
    proxy_number: str | None = Field(description="The number it was sent to")
    text: str
    received_at: datetime
    state: str = Field(description="waiting, handled (a chat was started from it) or dismissed")


class UnroutedPage(BaseModel):
    messages: list[UnroutedOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


def unrouted_out(message: Message) -> UnroutedOut:
    sender = message.sender_number
    return UnroutedOut(
        id=message.public_id,
        sender=sender if sender and is_alphanumeric_sender(sender) else mask(sender),
        proxy_number=message.proxy_number,
        text=message.body,
        received_at=message.created_at,
        state=message.unrouted_state or UnroutedView.waiting.value,
    )


@blueprint.get("/unrouted")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(UnroutedQuery)
@validate_response(UnroutedPage)
async def get_unrouted(query_args: UnroutedQuery) -> UnroutedPage:
    """SMS that reached a proxy number with no active chat for their sender, newest first."""
    async with services().db.read() as session:
        messages, next_cursor = await list_unrouted(
            session, view=query_args.view, cursor=query_args.cursor, limit=query_args.limit
        )
    return UnroutedPage(messages=[unrouted_out(m) for m in messages], next_cursor=next_cursor)

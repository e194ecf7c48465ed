"""Searching messages through the API: by words of their text, or by a phone number."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring, validate_response

from ...models import ChatStatus
from ...proxy.search import SearchHit, search_messages
from ...proxy.search_text import MAX_QUERY_LENGTH
from .. import services, settings
from .base import API_LIMITS, api_key_required, blueprint


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Longer queries are refused by the rules, with a message, rather than here.
    q: str = Field(
        max_length=MAX_QUERY_LENGTH * 4,
        description="Words (each matches a whole word or its start; all must be in the "
        "text), or a phone number in any format (the messages of the chats of whoever has "
        f"it, or of the proxy number); at most {MAX_QUERY_LENGTH} characters",
    )
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(25, ge=1, le=100)


class SearchHitOut(BaseModel):
    message_id: str
    chat_id: str
    chat_reference: str | None
    chat_status: ChatStatus
    direction: str = Field(description='"inbound" (a participant wrote it) or "outbound"')
    author: str = Field(description='The participant\'s name, "Staff" or "System"')
    author_number: str | None = Field(description="The participant's real number, masked")
    sent_at: datetime
    snippet: str = Field(description="Up to 140 characters of the text around the match")
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) offsets of the matched words in `snippet`"
    )


class SearchPage(BaseModel):
    hits: list[SearchHitOut]
    number: str | None = Field(
        description="The phone number searched for, masked; null for a search by words"
    )
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


def hit_out(hit: SearchHit) -> SearchHitOut:
    return SearchHitOut(
        message_id=hit.message_id,
        chat_id=hit.chat_id,
        chat_reference=hit.chat_reference,
        chat_status=hit.chat_status,
        direction=hit.direction,
        author=hit.author,
        author_number=hit.author_number,
        sent_at=hit.sent_at,
        snippet=hit.snippet.text,
        highlights=hit.snippet.highlights,
    )


@blueprint.get("/messages/search")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(SearchQuery)
@validate_response(SearchPage)
async def get_message_search(query_args: SearchQuery) -> SearchPage:
    """Search the messages of every chat, newest first, by words or by a phone number."""
    async with services().db.read() as session:
        results = await search_messages(
            session,
            query_args.q,
            default_region=settings().default_region,
            cursor=query_args.cursor,
            limit=query_args.limit,
        )
    return SearchPage(
        hits=[hit_out(hit) for hit in results.hits],
        number=results.number,
        next_cursor=results.next_cursor,
    )

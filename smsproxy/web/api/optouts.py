"""Opt-outs through the API: who asked for no more SMS, and when (numbers masked)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring, validate_response

from ...phone import mask
from ...proxy.optouts import list_opt_outs
from .. import services
from .base import API_LIMITS, api_key_required, blueprint


class OptOutQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=200)


class OptOutOut(BaseModel):
    number: str = Field(description="The real number, masked")
    opted_out_at: datetime
    source: str = Field(description='"keyword" (the person texted it) or "carrier" (a receipt)')
    keyword: str | None = Field(description="The keyword texted, such as STOP")
    proxy_number: str | None = Field(description="The proxy number it was texted to")


class OptOutPage(BaseModel):
    opt_outs: list[OptOutOut]
    erased: int = Field(
        description="Opted-out numbers erased since: kept as hashes so their STOP holds"
    )
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


@blueprint.get("/opt-outs")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(OptOutQuery)
@validate_response(OptOutPage)
async def get_opt_outs(query_args: OptOutQuery) -> OptOutPage:
    """List the numbers that opted out of SMS from every proxy number, newest first."""
    async with services().db.read() as session:
        page = await list_opt_outs(session, cursor=query_args.cursor, limit=query_args.limit)
    return OptOutPage(
        opt_outs=[
            OptOutOut(
                number=mask(row.number),
                opted_out_at=row.created_at,
                source=row.source,
                keyword=row.keyword,
                proxy_number=row.proxy_number,
            )
            for row in page.rows
        ],
        erased=page.erased,
        next_cursor=page.next_cursor,
    )

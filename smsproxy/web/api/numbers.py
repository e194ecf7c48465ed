"""The number pool through the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...proxy import pool
from ...proxy.pool import NumberUsage
from .. import services
from .base import API_LIMITS, api_key_required, blueprint
from .responses import no_content


class NumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(max_length=40, description="E.164 or any format with country code")
    label: str = Field("", max_length=100)


class NumberOut(BaseModel):
    number: str
    country: str
    label: str
    enabled: bool
    active_chats: int
    active_routes: int
    created_at: datetime


class NumberList(BaseModel):
    numbers: list[NumberOut]


def number_out(usage: NumberUsage) -> NumberOut:
    n = usage.number
    return NumberOut(
        number=n.number,
        country=n.country,
        label=n.label,
        enabled=n.enabled,
        active_chats=usage.active_chats,
        active_routes=usage.active_routes,
        created_at=n.created_at,
    )


@blueprint.get("/numbers")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(NumberList)
async def get_numbers() -> NumberList:
    """The proxy number pool with the load on each number."""
    async with services().db.read() as session:
        return NumberList(numbers=[number_out(u) for u in await pool.list_numbers(session)])


@blueprint.post("/numbers")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(NumberIn)
@validate_response(NumberOut, 201)
async def post_number(data: NumberIn) -> tuple[NumberOut, int]:
    """Add a proxy number (one you rent from the carrier) to the pool."""
    svc = services()
    async with svc.db.transaction() as session:
        record = await pool.add_number(
            session, data.number, label=data.label, default_region=svc.settings.default_region
        )
    return number_out(NumberUsage(record, 0, 0)), 201


@blueprint.delete("/numbers/<number>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@no_content
async def delete_number(number: str) -> tuple[str, int]:
    """Remove a number from the pool; refused (409) while it carries active chats."""
    svc = services()
    async with svc.db.transaction() as session:
        await pool.remove_number(session, number, svc.settings.default_region)
    return "", 204


class NumberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(None, max_length=100, description="A name for the number")
    enabled: bool | None = Field(
        None, description="false: no new chats get this number; its active chats go on"
    )


@blueprint.patch("/numbers/<number>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(NumberPatch)
@validate_response(NumberOut)
async def patch_number(number: str, data: NumberPatch) -> NumberOut:
    """Relabel a proxy number, or enable or disable it for new chats."""
    svc = services()
    region = svc.settings.default_region
    async with svc.db.transaction() as session:
        record = await pool.require_number(session, number, region)
        if data.label is not None:
            await pool.relabel(session, record, data.label)
        if data.enabled is not None and data.enabled != record.enabled:
            await pool.set_enabled(session, record.number, data.enabled)
        usage = await pool.usage_of(session, record.number)
    assert usage is not None
    return number_out(usage)

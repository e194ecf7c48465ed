"""The audit log through the API: the same filters as the dashboard's page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring, validate_response

from ...proxy import audit
from .. import services
from .base import API_LIMITS, api_key_required, blueprint


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str | None = Field(
        None, max_length=64, description='An action, or a family ending in "." (`staff.`)'
    )
    actor: str | None = Field(
        None, max_length=100, description="`staff:alice`, `api_key:spx_…`, or just `alice`"
    )
    target: str | None = Field(None, max_length=100, description="A chat, participant, key…")
    since: AwareDatetime | None = Field(None, description="Entries at or after this time")
    until: AwareDatetime | None = Field(None, description="Entries before this time")
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=200)


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] = Field(description="Facts about the action; never a number or text")


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


@blueprint.get("/audit-events")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(AuditQuery)
@validate_response(AuditPage)
async def get_audit_events(query_args: AuditQuery) -> AuditPage:
    """The audit log, newest first: who did what, when, to which chat or account."""
    where = audit.AuditFilter(
        action=query_args.action or "",
        actor=query_args.actor or "",
        target=query_args.target or "",
        since=query_args.since,
        until=query_args.until,
    )
    async with services().db.read() as session:
        found, next_cursor = await audit.list_events(
            session, where, cursor=query_args.cursor, limit=query_args.limit
        )
    events = [
        AuditEventOut(
            id=event.id or 0,
            at=event.at,
            actor=event.actor,
            action=event.action,
            target=event.target,
            detail=event.detail or {},
        )
        for event in found
    ]
    return AuditPage(events=events, next_cursor=next_cursor)

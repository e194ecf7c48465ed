"""An endpoint's deliveries through the API: a test ping, the log, resending one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import RateLimit, rate_limit
from quart_schema import validate_querystring, validate_response

from ...integrations import endpoints, history
from ...integrations.history import LoggedDelivery
from ...models import WebhookDeliveryStatus
from .. import services
from .base import API_LIMITS, actor, api_key_or_address, api_key_required, blueprint

# A ping is a request to someone else's server: fewer of them than of reads.
PING_LIMITS = [*API_LIMITS, RateLimit(30, timedelta(minutes=1), key_function=api_key_or_address)]


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="What the endpoint answered; null: no answer")
    duration_ms: int
    error: str | None


class WebhookDeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="The event's id, also its webhook-id header")
    event_type: str
    status: Literal["queued", "sending", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a queued delivery is tried next")
    created_at: datetime
    updated_at: datetime
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any] = Field(description="The event as sent")
    recent_attempts: list[AttemptOut] = Field(description="Newest first, at most ten")


class DeliveryPage(BaseModel):
    deliveries: list[WebhookDeliveryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["queued", "sending", "delivered", "failed", "cancelled"] | None = None
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(25, ge=1, le=100)


def delivery_out(entry: LoggedDelivery) -> WebhookDeliveryOut:
    row = entry.delivery
    return WebhookDeliveryOut(
        id=row.public_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status.value,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == WebhookDeliveryStatus.queued else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        payload=json.loads(row.body),
        recent_attempts=[
            AttemptOut(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                duration_ms=a.duration_ms,
                error=a.error,
            )
            for a in entry.attempts
        ],
    )


@blueprint.post("/webhook-endpoints/<endpoint_id>/test")
@rate_limit(limits=PING_LIMITS)
@api_key_required
@validate_response(WebhookDeliveryOut)
async def post_webhook_endpoint_test(endpoint_id: str) -> WebhookDeliveryOut:
    """Send a ping event to the endpoint now, once, and answer with the outcome.

    Works on a disabled endpoint too, to check it before enabling it. A ping is never
    retried and does not count towards disabling an endpoint.
    """
    svc = services()
    row = await svc.webhooks.ping(endpoint_id)
    async with svc.db.read() as session:
        endpoint = await endpoints.get_endpoint(session, endpoint_id)
        entry = await history.get_delivery(session, endpoint, row.public_id)
    return delivery_out(entry)


@blueprint.get("/webhook-endpoints/<endpoint_id>/deliveries")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(DeliveryQuery)
@validate_response(DeliveryPage)
async def get_webhook_deliveries(endpoint_id: str, query_args: DeliveryQuery) -> DeliveryPage:
    """The endpoint's delivery log, newest first: each event with its recent attempts."""
    status = WebhookDeliveryStatus(query_args.status) if query_args.status else None
    async with services().db.read() as session:
        endpoint = await endpoints.get_endpoint(session, endpoint_id)
        entries, next_cursor = await history.delivery_log(
            session, endpoint, status=status, cursor=query_args.cursor, limit=query_args.limit
        )
    return DeliveryPage(deliveries=[delivery_out(e) for e in entries], next_cursor=next_cursor)


@blueprint.post("/webhook-endpoints/<endpoint_id>/deliveries/<delivery_id>/resend")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(WebhookDeliveryOut, 202)
async def post_webhook_delivery_resend(
    endpoint_id: str, delivery_id: str
) -> tuple[WebhookDeliveryOut, int]:
    """Queue a finished delivery again, to be sent at once (same event id).

    409 while it is still queued or being sent, or when the endpoint is disabled.
    """
    async with services().db.transaction() as session:
        endpoint = await endpoints.get_endpoint(session, endpoint_id)
        await history.resend(session, endpoint, delivery_id, actor=actor())
        entry = await history.get_delivery(session, endpoint, delivery_id)
    return delivery_out(entry), 202

"""Webhook endpoints through the API: where integration events go, and which."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...events import INTEGRATION_TYPES
from ...integrations import endpoints
from ...integrations.endpoints import EndpointChanges, EndpointSpec, state_of
from ...models import WebhookEndpoint
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint
from .responses import no_content

EVENTS_HELP = f'Event types to receive ({", ".join(INTEGRATION_TYPES)}), or ["*"] for all'
URL_HELP = "https:// URL (http:// only for localhost, 127.0.0.0/8 and ::1)"


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description=URL_HELP)
    events: list[str] = Field(min_length=1, max_length=20, description=EVENTS_HELP)
    description: str = Field("", max_length=200, description="What the endpoint is for")
    enabled: bool = Field(True, description="false: created, but sent nothing yet")


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    state: Literal["enabled", "failing", "disabled"] = Field(
        description="failing: enabled, but its latest attempts failed"
    )
    failing_since: datetime | None
    last_success_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(
        description="The whsec_… signing secret: shown only in this answer, keep it safe"
    )


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000, description=URL_HELP)
    events: list[str] | None = Field(None, min_length=1, max_length=20, description=EVENTS_HELP)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(
        None, description="true also clears the failure streak that disabled it"
    )


def endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "state": state_of(endpoint).value,
        "failing_since": endpoint.failing_since,
        "last_success_at": endpoint.last_success_at,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(**endpoint_fields(endpoint))


@blueprint.post("/webhook-endpoints")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(EndpointIn)
@validate_response(EndpointCreated, 201)
async def post_webhook_endpoint(data: EndpointIn) -> tuple[EndpointCreated, int]:
    """Register an endpoint for signed events; the answer holds its secret, once."""
    svc = services()
    spec = EndpointSpec(data.url, data.events, data.description, data.enabled)
    async with svc.db.transaction() as session:
        endpoint, secret = await endpoints.create_endpoint(
            session, spec, box=svc.webhooks.box, actor=actor()
        )
    return EndpointCreated(**endpoint_fields(endpoint), secret=secret), 201


@blueprint.get("/webhook-endpoints")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(EndpointList)
async def get_webhook_endpoints() -> EndpointList:
    """The webhook endpoints, oldest first, with their state."""
    async with services().db.read() as session:
        found = await endpoints.list_endpoints(session)
    return EndpointList(endpoints=[endpoint_out(e) for e in found])


@blueprint.get("/webhook-endpoints/<endpoint_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(EndpointOut)
async def get_webhook_endpoint(endpoint_id: str) -> EndpointOut:
    """One webhook endpoint and its state."""
    async with services().db.read() as session:
        return endpoint_out(await endpoints.get_endpoint(session, endpoint_id))


@blueprint.patch("/webhook-endpoints/<endpoint_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(EndpointPatch)
@validate_response(EndpointOut)
async def patch_webhook_endpoint(endpoint_id: str, data: EndpointPatch) -> EndpointOut:
    """Change an endpoint's URL, event types, description, or enable or disable it.

    Queued events of types it no longer subscribes to are cancelled.
    """
    changes = EndpointChanges(data.url, data.events, data.description, data.enabled)
    async with services().db.transaction() as session:
        endpoint = await endpoints.update_endpoint(session, endpoint_id, changes, actor=actor())
    return endpoint_out(endpoint)


@blueprint.delete("/webhook-endpoints/<endpoint_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@no_content
async def delete_webhook_endpoint(endpoint_id: str) -> tuple[str, int]:
    """Delete an endpoint: nothing more is sent to it, queued events are cancelled."""
    async with services().db.transaction() as session:
        await endpoints.delete_endpoint(session, endpoint_id, actor=actor())
    return "", 204

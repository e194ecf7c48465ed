"""Webhook endpoints: create (the secret is shown once), read, change, delete.

Every change is audited and announced (`WebhookEndpointsChanged`), so every process
reloads the list of endpoints it queues events for. A deleted endpoint stays as a row,
its secret wiped: a process that has not heard of the deletion yet may still queue a
row for it, and that must not break the transaction of the SMS that caused the event.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import InvalidInput, NotFound
from ..models import AuditEvent, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from .signing import SecretBox, new_secret
from .urls import check_url

ALL_EVENTS = "*"
MAX_DESCRIPTION = 200


class EndpointState(StrEnum):
    enabled = "enabled"
    failing = "failing"  # enabled, but its last attempts failed
    disabled = "disabled"


def state_of(endpoint: WebhookEndpoint) -> EndpointState:
    if not endpoint.enabled:
        return EndpointState.disabled
    return EndpointState.failing if endpoint.failing_since else EndpointState.enabled


def subscribes(event_types: Sequence[str], event_type: str) -> bool:
    return ALL_EVENTS in event_types or event_type in event_types


def check_events(raw: Sequence[str]) -> list[str]:
    """Known, distinct integration types in catalog order; "*" stands for all of them,
    including types added later."""
    wanted = [str(name).strip() for name in raw]
    if not wanted:
        raise InvalidInput(
            'events needs at least one event type (or "*" for every type)', field="events"
        )
    known = events.INTEGRATION_TYPES
    unknown = [name for name in wanted if name != ALL_EVENTS and name not in known]
    if unknown:
        raise InvalidInput(
            f"events: {unknown[0]!r} is not an event type; the types are "
            f'{", ".join(known)} (or "*" for all)',
            field="events",
        )
    if ALL_EVENTS in wanted:
        return [ALL_EVENTS]
    return [name for name in known if name in wanted]


def check_description(raw: str) -> str:
    text = raw.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description is longer than {MAX_DESCRIPTION} characters", field="description"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidInput("description has control characters", field="description")
    return text


@dataclass(frozen=True)
class EndpointSpec:
    url: str
    events: Sequence[str]
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class EndpointChanges:
    """What to change; None leaves a value as it is."""

    url: str | None = None
    events: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None


def _announce(session: AsyncSession, endpoint: WebhookEndpoint, change: str, actor: str) -> None:
    session.add(
        AuditEvent(actor=actor, action=f"webhook_endpoint.{change}", target=endpoint.public_id)
    )
    events.emit(session, events.WebhookEndpointsChanged(endpoint.public_id, change))


async def create_endpoint(
    session: AsyncSession, spec: EndpointSpec, *, box: SecretBox, actor: str
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, in clear: the only time it is shown."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=check_url(spec.url),
        event_types=check_events(spec.events),
        description=check_description(spec.description),
        secret=box.seal(secret),
        enabled=spec.enabled,
    )
    if not spec.enabled:
        endpoint.disabled_at = endpoint.created_at
        endpoint.disabled_reason = f"Created disabled by {actor}"
    session.add(endpoint)
    await session.flush()
    _announce(session, endpoint, "created", actor)
    return endpoint, secret


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.deleted_at).is_(None))
        .order_by(col(WebhookEndpoint.id))
    )
    return list((await session.exec(query)).all())


async def get_endpoint(
    session: AsyncSession, public_id: str, *, for_update: bool = False
) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(
        col(WebhookEndpoint.public_id) == public_id, col(WebhookEndpoint.deleted_at).is_(None)
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    endpoint = (await session.exec(query)).first()
    if endpoint is None:
        raise NotFound(f"No webhook endpoint with id {public_id!r}")
    return endpoint


async def update_endpoint(
    session: AsyncSession, public_id: str, changes: EndpointChanges, *, actor: str
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, public_id, for_update=True)
    now = utcnow()
    if changes.url is not None:
        endpoint.url = check_url(changes.url)
    if changes.description is not None:
        endpoint.description = check_description(changes.description)
    if changes.events is not None:
        endpoint.event_types = check_events(changes.events)
        await _cancel_queued(session, endpoint, keep=endpoint.event_types)
    change = "updated"
    if changes.enabled is not None and changes.enabled != endpoint.enabled:
        set_enabled(endpoint, changes.enabled, now, f"Disabled by {actor}")
        change = "enabled" if changes.enabled else "disabled"
    endpoint.updated_at = now
    session.add(endpoint)
    _announce(session, endpoint, change, actor)
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, now: datetime, reason: str) -> None:
    """Enabling starts afresh: the failure streak that may have disabled it is over."""
    endpoint.enabled = enabled
    endpoint.failing_since = None
    endpoint.disabled_at = None if enabled else now
    endpoint.disabled_reason = None if enabled else reason[:500]


async def delete_endpoint(session: AsyncSession, public_id: str, *, actor: str) -> None:
    endpoint = await get_endpoint(session, public_id, for_update=True)
    now = utcnow()
    endpoint.deleted_at = endpoint.updated_at = now
    endpoint.enabled = False
    endpoint.secret = ""  # nothing signs for it any more
    session.add(endpoint)
    await _cancel_queued(session, endpoint, keep=(), in_flight_too=True)
    _announce(session, endpoint, "deleted", actor)


async def _cancel_queued(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    keep: Sequence[str],
    *,
    in_flight_too: bool = False,
) -> None:
    """Queued events the endpoint no longer wants are cancelled, not sent (and, for a
    deleted endpoint, those being sent: their outcome no longer counts)."""
    if ALL_EVENTS in keep:
        return
    statuses = [WebhookDeliveryStatus.queued]
    if in_flight_too:
        statuses.append(WebhookDeliveryStatus.sending)
    query = (
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status).in_(statuses),
        )
        .values(status=WebhookDeliveryStatus.cancelled, updated_at=utcnow())
    )
    if not in_flight_too:
        # A test ping is no subscription's: changing the event types leaves it alone.
        query = query.where(col(WebhookDelivery.event_type).not_in([*keep, "ping"]))
    await session.exec(query)

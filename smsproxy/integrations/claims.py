"""Claiming due webhook deliveries: a claim is a lease, taken per endpoint.

Like the SMS outbox (`outbox.claims`): a claimed row turns `sending` until
`lease_until`; a process that dies mid-request leaves it so, and once the lease runs out
any process claims it again (an event may, rarely, arrive twice; receivers drop
duplicates by `webhook-id`). PostgreSQL claims with FOR UPDATE SKIP LOCKED, SQLite
serialises writers. Each endpoint is claimed for separately, up to the slots the
worker has free for it, so a backlog at one endpoint never holds up another's events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select

from ..db import Database, utcnow
from ..models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from .endpoints import subscribes

PING = "ping"


@dataclass(frozen=True)
class Claimed:
    """A leased row and what sending it needs of its endpoint."""

    delivery: WebhookDelivery
    endpoint_id: int
    url: str
    sealed_secret: str


def due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            col(WebhookDelivery.status) == WebhookDeliveryStatus.queued,
            col(WebhookDelivery.next_attempt_at) <= now,
        ),
        and_(
            col(WebhookDelivery.status) == WebhookDeliveryStatus.sending,
            or_(
                col(WebhookDelivery.lease_until) < now,
                col(WebhookDelivery.lease_until).is_(None),
            ),
        ),
    )


async def endpoints_with_due(db: Database, now: datetime | None = None) -> list[int]:
    """Enabled endpoints that have rows due. A read: an idle outbox costs no write lock."""
    now = now or utcnow()
    query = (
        select(WebhookDelivery.endpoint_id)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == WebhookDelivery.endpoint_id)
        .where(
            due(now),
            col(WebhookEndpoint.enabled),
            col(WebhookEndpoint.deleted_at).is_(None),
        )
        .distinct()
    )
    async with db.read() as session:
        return [int(endpoint_id) for endpoint_id in (await session.exec(query)).all()]


async def claim(
    db: Database,
    wanted: Mapping[int, int],
    now: datetime | None = None,
    *,
    lease_seconds: float,
    retry_seconds: float,
) -> list[Claimed]:
    """Lease, oldest first, up to `wanted[endpoint id]` due rows of each endpoint, in
    one short transaction. Rows the endpoint no longer subscribes to are cancelled, and
    rows queued longer than `retry_seconds` ago are failed, unsent."""
    now = now or utcnow()
    claimed: list[Claimed] = []
    async with db.transaction() as session:
        for endpoint_id, limit in wanted.items():
            if limit <= 0:
                continue
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or not endpoint.enabled or endpoint.deleted_at is not None:
                continue
            query = (
                select(WebhookDelivery)
                .where(col(WebhookDelivery.endpoint_id) == endpoint_id, due(now))
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            for row in (await session.exec(query)).all():
                if row.event_type != PING and not subscribes(endpoint.event_types, row.event_type):
                    _settle(row, WebhookDeliveryStatus.cancelled, now, None)
                elif now - row.queued_at > timedelta(seconds=retry_seconds):
                    reason = f"Not delivered within {retry_seconds / 3600:g} h of being queued"
                    last = f" (last attempt: {row.last_error})" if row.last_error else ""
                    _settle(row, WebhookDeliveryStatus.failed, now, reason + last)
                else:
                    row.status = WebhookDeliveryStatus.sending
                    row.lease_until = now + timedelta(seconds=lease_seconds)
                    row.attempts += 1
                    row.updated_at = now
                    claimed.append(Claimed(row, endpoint_id, endpoint.url, endpoint.secret))
                session.add(row)
    return claimed


def _settle(
    row: WebhookDelivery, status: WebhookDeliveryStatus, now: datetime, error: str | None
) -> None:
    row.status = status
    row.lease_until = None
    row.updated_at = now
    if error is not None:
        row.last_error = error[:500]

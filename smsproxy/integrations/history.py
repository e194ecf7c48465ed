"""The delivery log of an endpoint (newest first, with each delivery's recent
attempts), resending one delivery, and pruning what is older than the log keeps."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import Database, utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..models import (
    AuditEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from .subscriptions import wake_after_commit

ATTEMPTS_SHOWN = 10  # per delivery: the most recent
FINISHED = (
    WebhookDeliveryStatus.delivered,
    WebhookDeliveryStatus.failed,
    WebhookDeliveryStatus.cancelled,
)


@dataclass
class LoggedDelivery:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt] = field(default_factory=list)  # newest first


def _encode(delivery_id: int) -> str:
    return base64.urlsafe_b64encode(f"d{delivery_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raw = ""
    if not raw.startswith("d") or not raw[1:].isdigit() or len(raw) > 19:
        raise InvalidInput("cursor is not one this API returned", field="cursor")
    return int(raw[1:])


async def delivery_log(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    status: WebhookDeliveryStatus | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> tuple[list[LoggedDelivery], str | None]:
    """A page of the endpoint's deliveries, newest first, and the next page's cursor."""
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == endpoint.id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    if cursor:
        query = query.where(col(WebhookDelivery.id) < _decode(cursor))
    rows = list((await session.exec(query)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        assert rows[-1].id is not None
        next_cursor = _encode(rows[-1].id)
    logged = {row.id: LoggedDelivery(row) for row in rows}
    if logged:
        attempts = await session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(list(logged)))
            .order_by(col(WebhookAttempt.id).desc())
        )
        for attempt in attempts.all():
            entry = logged[attempt.delivery_id]
            if len(entry.attempts) < ATTEMPTS_SHOWN:
                entry.attempts.append(attempt)
    return list(logged.values()), next_cursor


async def get_delivery(
    session: AsyncSession, endpoint: WebhookEndpoint, public_id: str
) -> LoggedDelivery:
    query = select(WebhookDelivery).where(
        col(WebhookDelivery.public_id) == public_id,
        col(WebhookDelivery.endpoint_id) == endpoint.id,
    )
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound(f"Endpoint {endpoint.public_id} has no delivery {public_id!r}")
    attempts = await session.exec(
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id) == row.id)
        .order_by(col(WebhookAttempt.id).desc())
        .limit(ATTEMPTS_SHOWN)
    )
    return LoggedDelivery(row, list(attempts.all()))


async def resend(
    session: AsyncSession, endpoint: WebhookEndpoint, public_id: str, *, actor: str
) -> WebhookDelivery:
    """Queue a finished delivery again, now, with a fresh retry window. The event keeps
    its id: a receiver that already handled it sees the same `webhook-id`."""
    query = (
        select(WebhookDelivery)
        .where(
            col(WebhookDelivery.public_id) == public_id,
            col(WebhookDelivery.endpoint_id) == endpoint.id,
        )
        .with_for_update()
    )
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound(f"Endpoint {endpoint.public_id} has no delivery {public_id!r}")
    if row.status not in FINISHED:
        raise Conflict(f"Delivery {public_id} is {row.status} already: it needs no resend")
    if not endpoint.enabled:
        raise Conflict(f"Endpoint {endpoint.public_id} is disabled: enable it first, then resend")
    now = utcnow()
    row.status = WebhookDeliveryStatus.queued
    row.next_attempt_at = row.queued_at = row.updated_at = now
    row.lease_until = None
    session.add(row)
    session.add(
        AuditEvent(
            actor=actor,
            action="webhook_delivery.resend",
            target=endpoint.public_id,
            detail={"delivery": row.public_id, "event": row.event_id},
        )
    )
    wake_after_commit(session)
    return row


async def prune(db: Database, older_than: datetime, batch: int = 500) -> int:
    """Delete finished deliveries created before `older_than` (and their attempts), and
    every row of endpoints deleted before it; returns how many deliveries went."""
    removed = 0
    while True:
        async with db.transaction() as session:
            gone_endpoints = select(WebhookEndpoint.id).where(
                col(WebhookEndpoint.deleted_at).is_not(None)
            )
            old = (
                select(WebhookDelivery.id)
                .where(
                    col(WebhookDelivery.created_at) < older_than,
                    col(WebhookDelivery.status).in_(FINISHED)
                    | col(WebhookDelivery.endpoint_id).in_(gone_endpoints),
                )
                .limit(batch)
            )
            ids = list((await session.exec(old)).all())
            if ids:
                await session.exec(
                    delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids))
                )
                await session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids)))
        removed += len(ids)
        if len(ids) < batch:
            return removed


def retention_cutoff(log_days: int, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=log_days)

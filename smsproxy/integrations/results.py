"""What an attempt means for its delivery and its endpoint.

A 2xx answer delivers. A 5xx, 408, 429, a timeout or a connection error is retried
with exponential backoff and full jitter (a 429's or 503's Retry-After is honoured)
until the row has been queued `retry_seconds`; any other answer (a 3xx, a 4xx) is
final. An endpoint whose attempts have failed without a single success for
`disable_after_seconds` is disabled, with the reason shown and an audit entry.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import Database, utcnow
from ..models import (
    AuditEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from .endpoints import set_enabled

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
# Recording each success on the endpoint row would make every event a write to it.
SUCCESS_NOTE_EVERY = timedelta(minutes=1)


class Verdict(StrEnum):
    delivered = "delivered"
    retry = "retry"
    final = "final"


@dataclass(frozen=True)
class AttemptResult:
    """One HTTP request's outcome: a status code, or an error with no answer."""

    status_code: int | None
    duration_ms: int
    error: str | None = None
    retry_after: float | None = None

    @property
    def verdict(self) -> Verdict:
        code = self.status_code
        if code is None:
            return Verdict.retry  # a timeout or a connection error
        if 200 <= code < 300:
            return Verdict.delivered
        if code >= 500 or code in (408, 429):
            return Verdict.retry
        return Verdict.final


@dataclass(frozen=True)
class Policy:
    """How long to keep trying a row, and an endpoint."""

    retry_seconds: float = 24 * 3600
    disable_after_seconds: float = 3 * 24 * 3600
    retries: bool = True  # False for test pings: one attempt, whatever it gives


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number `attempts`: full jitter over an exponential ceiling,
    so the events an outage held back do not all return at once."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    return rng() * ceiling


@dataclass(frozen=True)
class Outcome:
    """An attempt to record: the row, its claim's attempt count, what happened."""

    delivery_id: int
    attempts: int
    result: AttemptResult
    policy: Policy


async def record_attempt(
    db: Database,
    delivery_id: int,
    attempts: int,
    result: AttemptResult,
    policy: Policy,
    now: datetime | None = None,
) -> WebhookDeliveryStatus:
    """Log one attempt and move its row on (see `record_attempts`)."""
    outcome = Outcome(delivery_id, attempts, result, policy)
    return (await record_attempts(db, [outcome], now))[0]


async def record_attempts(
    db: Database, outcomes: Sequence[Outcome], now: datetime | None = None
) -> list[WebhookDeliveryStatus]:
    """Log the attempts and move each row (and its endpoint's health) on, in one
    transaction; returns each row's new status. An outcome whose claim is stale (the
    lease ran out and another worker holds the row now) only goes into the log."""
    now = now or utcnow()
    ids = [outcome.delivery_id for outcome in outcomes]
    async with db.transaction() as session:
        query = select(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids))
        rows = {row.id: row for row in (await session.exec(query.with_for_update())).all()}
        attempts = [
            _logged(rows[o.delivery_id], o.result, now) for o in outcomes if o.delivery_id in rows
        ]
        if attempts:
            connection = await session.connection()
            await connection.execute(insert(WebhookAttempt.__table__), attempts)  # type: ignore[attr-defined]
        statuses = []
        for outcome in outcomes:
            row = rows.get(outcome.delivery_id)
            if row is None:
                statuses.append(WebhookDeliveryStatus.cancelled)
                continue
            current = (
                row.status == WebhookDeliveryStatus.sending and row.attempts == outcome.attempts
            )
            if current:
                _move_on(row, outcome.result, outcome.policy, now)
                session.add(row)
                if row.event_type != "ping":
                    await _note_health(
                        session, row.endpoint_id, outcome.result, outcome.policy, now
                    )
            statuses.append(WebhookDeliveryStatus(row.status))
        return statuses


def _logged(row: WebhookDelivery, result: AttemptResult, now: datetime) -> dict[str, object]:
    return {
        "delivery_id": row.id,
        "endpoint_id": row.endpoint_id,
        "attempted_at": now,
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "error": result.error[:500] if result.error else None,
    }


def _move_on(row: WebhookDelivery, result: AttemptResult, policy: Policy, now: datetime) -> None:
    verdict = result.verdict
    row.lease_until = None
    row.updated_at = now
    row.last_status_code = result.status_code
    row.last_error = result.error[:500] if result.error else None
    if verdict == Verdict.delivered:
        row.status = WebhookDeliveryStatus.delivered
        return
    delay = backoff(row.attempts)
    if result.retry_after is not None:
        delay = max(delay, min(result.retry_after, BACKOFF_CAP_SECONDS))
    retry_at = now + timedelta(seconds=delay)
    window_ends = row.queued_at + timedelta(seconds=policy.retry_seconds)
    if verdict == Verdict.retry and policy.retries and retry_at <= window_ends:
        row.status = WebhookDeliveryStatus.queued
        row.next_attempt_at = retry_at
        log.info(
            "webhook delivery %s: attempt %d failed (%s), retry in %.0f s",
            row.public_id,
            row.attempts,
            result.status_code or "no answer",
            delay,
        )
        return
    row.status = WebhookDeliveryStatus.failed
    if verdict == Verdict.retry and policy.retries:
        row.last_error = f"Gave up after {row.attempts} attempts: {row.last_error or ''}"[:500]
    log.info("webhook delivery %s failed after %d attempt(s)", row.public_id, row.attempts)


async def _note_health(
    session: AsyncSession, endpoint_id: int, result: AttemptResult, policy: Policy, now: datetime
) -> None:
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if endpoint is None:
        return
    if result.verdict == Verdict.delivered:
        noted = endpoint.last_success_at
        if endpoint.failing_since is None and noted and now - noted < SUCCESS_NOTE_EVERY:
            return
        endpoint.failing_since = None
        endpoint.last_success_at = now
        session.add(endpoint)
        return
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        session.add(endpoint)
        return
    failing_for = now - endpoint.failing_since
    if endpoint.enabled and failing_for >= timedelta(seconds=policy.disable_after_seconds):
        _disable(session, endpoint, failing_for, result, now)


def _disable(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    failing_for: timedelta,
    result: AttemptResult,
    now: datetime,
) -> None:
    since = endpoint.failing_since
    assert since is not None
    last = f"HTTP {result.status_code}" if result.status_code else (result.error or "no answer")
    reason = (
        f"Disabled automatically: every attempt failed for {_span(failing_for)} "
        f"(since {since:%Y-%m-%d %H:%M} UTC; last: {last})"
    )
    set_enabled(endpoint, False, now, reason)
    endpoint.updated_at = now
    session.add(endpoint)
    session.add(
        AuditEvent(
            actor="system:webhooks",
            action="webhook_endpoint.disabled",
            target=endpoint.public_id,
            detail={"reason": reason, "failing_since": since.isoformat()},
        )
    )
    events.emit(session, events.WebhookEndpointsChanged(endpoint.public_id, "disabled"))
    log.warning("webhook endpoint %s disabled: failing for %s", endpoint.public_id, failing_for)


def _span(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"

"""The front of the integrations outbox: each integration event, to each enabled
endpoint that subscribes to its type, becomes a `WebhookDelivery` row written in the
transaction of the change that caused it, as its last step before commit.

Which endpoints want what is asked on every SMS, so it must not cost a query each
time: each process keeps the list (`Subscriptions`) and reloads it when an endpoint
changes (`WebhookEndpointsChanged`, heard from its own commits at once and from other
processes through the event broker), or after `max_age_seconds` at the latest, for
the change a process missed (Redis out of reach, or no Redis with several processes).
A list a moment old is harmless either way: a row for an endpoint since disabled,
deleted or unsubscribed is never sent, and an endpoint is sent what happens after
every process has heard of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..events import IntegrationEvent, take_integration_events
from ..models import WebhookDelivery, WebhookEndpoint
from .endpoints import subscribes

# Set in a session that queued an event (or a resend); the composition root wakes the
# webhook worker when such a transaction commits.
WAKE_KEY = "smsproxy.wake_webhooks"


def took_new_rows(session: AsyncSession) -> bool:
    """Whether this (committed) unit of work queued an event; clears the mark."""
    return bool(session.info.pop(WAKE_KEY, False))


def wake_after_commit(session: AsyncSession) -> None:
    session.info[WAKE_KEY] = True


@dataclass(frozen=True)
class Subscriber:
    endpoint_id: int
    event_types: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        return subscribes(self.event_types, event_type)


class Subscriptions:
    """This process's list of enabled endpoints and the types each subscribes to."""

    def __init__(
        self, max_age_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._subscribers: list[Subscriber] | None = None
        self._loaded_at = 0.0
        # Raised by every invalidation: a load that began before one is not kept, as
        # it may have read the list as it was before the change committed.
        self._generation = 0
        self.loads = 0

    def invalidate(self) -> None:
        self._generation += 1
        self._subscribers = None

    async def current(self, session: AsyncSession) -> list[Subscriber]:
        fresh = self._clock() - self._loaded_at < self.max_age_seconds
        if self._subscribers is not None and fresh:
            return self._subscribers
        generation = self._generation
        query = select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            col(WebhookEndpoint.enabled), col(WebhookEndpoint.deleted_at).is_(None)
        )
        rows = (await session.exec(query)).all()
        found = [
            Subscriber(endpoint_id, tuple(types or ()))
            for endpoint_id, types in rows
            if endpoint_id is not None
        ]
        self.loads += 1
        if generation == self._generation:
            self._subscribers, self._loaded_at = found, self._clock()
        return found


async def queue_deliveries(session: AsyncSession, subscriptions: Subscriptions) -> int:
    """Write this transaction's integration events for their endpoints; returns how
    many rows. Meant for `Database.before_commit`: nothing to write costs no query."""
    pending = take_integration_events(session)
    if not pending:
        return 0
    subscribers = await subscriptions.current(session)
    if not subscribers:
        return 0
    rows = [row for event in pending for row in _rows_for(event, subscribers)]
    if rows:
        # One executemany, with no ids read back: one statement for all of them, where
        # adding objects to the session would cost SQLite a statement per row.
        table = WebhookDelivery.__table__  # type: ignore[attr-defined]
        columns = [column.name for column in table.columns if column.name != "id"]
        values = [{name: getattr(row, name) for name in columns} for row in rows]
        connection = await session.connection()
        await connection.execute(insert(table), values)
        wake_after_commit(session)
    return len(rows)


def _rows_for(event: IntegrationEvent, subscribers: list[Subscriber]) -> list[WebhookDelivery]:
    wanted = [s for s in subscribers if s.wants(event.type)]
    if not wanted:
        return []
    body, now = event.body(), utcnow()
    return [
        WebhookDelivery(
            endpoint_id=subscriber.endpoint_id,
            event_id=event.id,
            event_type=event.type,
            body=body,
            next_attempt_at=now,
            queued_at=now,
            created_at=now,
            updated_at=now,
        )
        for subscriber in wanted
    ]

"""Integration events: the catalog's events as integrators' endpoints receive them.

`emit` turns each catalog event that has an integration type into an
`IntegrationEvent` at once, while the objects it describes are as the event saw them,
and keeps it in the session until commit; `smsproxy.integrations` then writes one
outbox row per subscribed endpoint in that same transaction.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from .catalog import CatalogEvent

PENDING_INTEGRATION_KEY = "smsproxy.pending_integration_events"


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class IntegrationEvent:
    """One event as sent: the id is the `webhook-id` header too, the same on every
    retry and for every endpoint, so receivers drop duplicates by it."""

    id: str
    type: str
    timestamp: datetime
    data: dict[str, Any]

    def body(self) -> str:
        """The JSON body, in the Standard Webhooks shape (type, timestamp, data) plus id."""
        envelope = {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def integration_event(event: CatalogEvent, now: datetime | None = None) -> IntegrationEvent | None:
    kind = event.integration_type()
    if kind is None:
        return None
    return IntegrationEvent(new_event_id(), kind, now or utcnow(), event.integration_payload())


def keep(session: AsyncSession, event: CatalogEvent) -> None:
    """Hold the event's integration form (if it has one) until this transaction commits."""
    found = integration_event(event)
    if found is not None:
        session.info.setdefault(PENDING_INTEGRATION_KEY, []).append(found)


def take_integration_events(session: AsyncSession) -> list[IntegrationEvent]:
    """This transaction's integration events, in the order they were emitted (once)."""
    found: list[IntegrationEvent] = session.info.pop(PENDING_INTEGRATION_KEY, [])
    return found

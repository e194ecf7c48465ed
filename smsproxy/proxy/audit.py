"""The audit log: who did what, when, to what. The one place entries are written.

    audit.record(session, actor="staff:alice", action="chat.close", target=chat.public_id)

An entry is written in the caller's transaction, so it exists exactly when what it
records does. Actors read `staff:<username>`, `api_key:<prefix>`, `cli`, `system` or
`system:<job>` (the expiry sweeper), or `anonymous` (a failed login). Entries never
hold a phone number or a message text: targets are public ids, usernames or key
prefixes, and `detail` carries only facts about the action (a reason, a count, a role,
an address).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from ..errors import InvalidInput
from ..models import AuditEvent

ANONYMOUS = "anonymous"
SYSTEM = "system"
# Column widths of AuditEvent: longer values are cut, never refused (a failed login's
# username is whatever someone typed).
MAX_ACTOR, MAX_ACTION, MAX_TARGET = 100, 64, 100


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one entry to the session's transaction."""
    entry = AuditEvent(
        actor=actor[:MAX_ACTOR],
        action=action[:MAX_ACTION],
        target=target[:MAX_TARGET] if target is not None else None,
        detail=dict(detail or {}),
    )
    session.add(entry)
    return entry


def staff_actor(username: str) -> str:
    return f"staff:{username}"


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page and API narrow the log down to. Empty fields match all.

    `action` is an action ("chat.close") or a family ending in "." ("staff.");
    `actor` an actor ("staff:alice") or just the name after the colon ("alice").
    """

    action: str = ""
    actor: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: SelectOfScalar[AuditEvent]) -> SelectOfScalar[AuditEvent]:
        if self.action.endswith("."):
            query = query.where(col(AuditEvent.action).startswith(self.action, autoescape=True))
        elif self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.actor:
            query = query.where(
                or_(
                    AuditEvent.actor == self.actor,
                    col(AuditEvent.actor).endswith(":" + self.actor, autoescape=True),
                )
            )
        if self.target:
            query = query.where(AuditEvent.target == self.target)
        if self.since is not None:
            query = query.where(col(AuditEvent.at) >= self.since)
        if self.until is not None:
            query = query.where(col(AuditEvent.at) < self.until)
        return query


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"a{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if not re.fullmatch(r"a[0-9]{1,18}", raw):
        raise InvalidInput("cursor is not one this API returned", field="cursor")
    return int(raw[1:])


async def list_events(
    session: AsyncSession, where: AuditFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[AuditEvent], str | None]:
    """Newest first; the page and the cursor of the next one (None at the end)."""
    query = where.apply(select(AuditEvent)).order_by(col(AuditEvent.id).desc()).limit(limit + 1)
    if cursor:
        query = query.where(col(AuditEvent.id) < decode_cursor(cursor))
    found = list((await session.exec(query)).all())
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    assert found[-1].id is not None
    return found, encode_cursor(found[-1].id)


async def stream_events(
    session: AsyncSession, where: AuditFilter, *, batch: int = 500
) -> AsyncIterator[AuditEvent]:
    """Every matching entry, newest first, read a batch at a time (for CSV export)."""
    before: int | None = None
    while True:
        query = where.apply(select(AuditEvent)).order_by(col(AuditEvent.id).desc()).limit(batch)
        if before is not None:
            query = query.where(col(AuditEvent.id) < before)
        rows = list((await session.exec(query)).all())
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        before = rows[-1].id


async def known_actions(session: AsyncSession) -> list[str]:
    """The actions the log holds, for the page's filter."""
    rows = await session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    return list(rows.all())

"""The sender's queries read only the rows still waiting, whatever the outbox's size.

At 1.1 M deliveries, failing rows past their age scanned the whole table (0.2-0.6 s)
inside the claim's write transaction. Each statement the claim, the expiry and the
wake-up timer run is checked here with SQLite's EXPLAIN QUERY PLAN: none may scan
the delivery table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from smsproxy.models import Delivery, DeliveryKind, DeliveryStatus
from smsproxy.outbox.claims import claim_due, expire_stale, seconds_until_due
from smsproxy.runtime import Runtime
from tests.conftest import USE_POSTGRES

pytestmark = pytest.mark.skipif(USE_POSTGRES, reason="reads SQLite's query plans")


@contextmanager
def captured(rt: Runtime) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "delivery" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    engines = [rt.db.engine.sync_engine, rt.db.read_engine.sync_engine]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_the_sender_never_scans_the_outbox(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        for n in range(300):  # settled history, and a few waiting
            status = DeliveryStatus.queued if n % 100 == 0 else DeliveryStatus.delivered
            session.add(
                Delivery(
                    kind=DeliveryKind.staff,
                    from_number="+447700900001",
                    to_number="+447700900002",
                    body=f"n{n}",
                    status=status,
                )
            )
    path = runtime.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("ANALYZE")

    with captured(runtime) as statements:
        await expire_stale(runtime.db, 3600)
        await claim_due(runtime.db, 8, max_age_seconds=3600)
        await seconds_until_due(runtime.db)

    assert len(statements) >= 4
    with sqlite3.connect(path) as connection:
        for statement, parameters in statements:
            plan = connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            details = [row[-1] for row in plan]
            assert not any(d.startswith("SCAN delivery") for d in details), (statement, details)

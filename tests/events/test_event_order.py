"""Event ids become visible in increasing order, so a page resuming from its last id
never skips an event that a slower transaction committed later."""

from __future__ import annotations

import asyncio

import pytest

from smsproxy import events
from smsproxy.runtime import Runtime
from tests.conftest import USE_POSTGRES


@pytest.mark.skipif(
    not USE_POSTGRES,
    reason="needs PostgreSQL (DATABASE_URL=postgresql://...): SQLite serialises writers, "
    "so transactions cannot commit out of order there",
)
async def test_ids_follow_commit_order_across_overlapping_transactions(runtime: Runtime) -> None:
    first_emitted = asyncio.Event()
    release_first = asyncio.Event()

    async def slow_writer() -> events.EventRecord:
        async with runtime.db.transaction() as session:
            record = events.record(session, events.NumberChanged.name, None, {"n": "slow"})
            first_emitted.set()
            await release_first.wait()
        return record

    async def fast_writer() -> events.EventRecord:
        await first_emitted.wait()
        async with runtime.db.transaction() as session:
            record = events.record(session, events.NumberChanged.name, None, {"n": "fast"})
        release_first.set()
        return record

    slow, fast = await asyncio.gather(slow_writer(), fast_writer())
    assert fast.id is not None and slow.id is not None
    # The slow transaction emitted first but committed last: its id must be the larger,
    # or a page that saw the fast one would resume past it.
    assert slow.id > fast.id
    async with runtime.db.read() as session:
        seen = await events.events_since(session, fast.id)
    assert [event.data["n"] for event in seen] == ["slow"]


async def test_rolled_back_transaction_records_no_event(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.db.transaction() as session:
            events.record(session, events.NumberChanged.name, None, {"n": "lost"})
            raise RuntimeError("abort")
    async with runtime.db.read() as session:
        assert await events.events_since(session, 0) == []

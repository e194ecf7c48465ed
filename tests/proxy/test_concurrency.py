"""Concurrent chat creation on PostgreSQL: every free route is handed out once.

SQLite takes its write lock at BEGIN (see db.py), so its transactions never race and
these tests would prove nothing there.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import pytest
from quart import Quart
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from smsproxy.errors import PoolExhausted
from smsproxy.models import Chat, IdempotencyRecord, Participant
from smsproxy.proxy import load, pool
from smsproxy.proxy.chats import (
    ChatSpec,
    NewParticipant,
    Templates,
    close_chat,
    create_chat,
    retry_on_route_conflict,
)
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgresql://", "postgres://")),
    reason="needs PostgreSQL (DATABASE_URL=postgresql://...): SQLite serialises writers, "
    "so concurrent creations never race there",
)

ALICE = "+447700900100"
POOL = [f"+4477009009{i:02d}" for i in range(20)]


def other(i: int) -> str:
    return f"+4477009002{i:02d}"


async def create_with_retry(rt: Runtime, people: list[str]) -> ChatView:
    spec = ChatSpec([NewParticipant(p) for p in people], intro=False)

    async def work(session: AsyncSession) -> ChatView:
        return await create_chat(session, spec, templates=Templates(), actor="tests")

    return await retry_on_route_conflict(rt.db, work)


async def active_pairs(rt: Runtime) -> list[tuple[str, str]]:
    async with rt.db.read() as session:
        query = select(Participant.real_number, Participant.proxy_number).where(
            col(Participant.active)
        )
        return list((await session.exec(query)).all())


async def test_concurrent_chats_for_one_person_fill_the_pool(runtime: Runtime) -> None:
    await add_numbers(runtime, *POOL)
    views = await asyncio.gather(
        *(create_with_retry(runtime, [ALICE, other(i)]) for i in range(len(POOL)))
    )
    alice_numbers = [
        p.proxy_number for v in views for p in v.participants if p.real_number == ALICE
    ]
    assert sorted(alice_numbers) == POOL
    pairs = await active_pairs(runtime)
    assert len(pairs) == 2 * len(POOL)
    assert len(set(pairs)) == len(pairs)
    async with runtime.db.read() as session:
        assert await load.count_drift(session) == []


async def test_only_the_surplus_is_refused(runtime: Runtime) -> None:
    await add_numbers(runtime, *POOL)
    surplus = 5
    results = await asyncio.gather(
        *(create_with_retry(runtime, [ALICE, other(i)]) for i in range(len(POOL) + surplus)),
        return_exceptions=True,
    )
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"ChatView": len(POOL), "PoolExhausted": surplus}
    refused = [r for r in results if isinstance(r, PoolExhausted)]
    assert all("all 20 enabled numbers" in r.message for r in refused)
    pairs = await active_pairs(runtime)
    assert len(pairs) == len(set(pairs)) == 2 * len(POOL)


async def test_concurrent_api_creations_never_answer_500(app: Quart, api_key: str) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    numbers = POOL[:8]
    await add_numbers(rt, *numbers)
    client = app.test_client()

    async def post(i: int) -> tuple[int, dict[str, Any]]:
        body = {"participants": [{"number": ALICE}, {"number": other(i)}], "intro": False}
        response = await client.post("/api/v1/chats", json=body, headers=auth(api_key))
        return response.status_code, await response.get_json()

    answers = await asyncio.gather(*(post(i) for i in range(12)))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 8, 409: 4}
    codes = {body["error"]["code"] for status, body in answers if status == 409}
    assert codes == {"pool_exhausted"}
    given = sorted(
        body["participants"][0]["proxy_number"] for status, body in answers if status == 201
    )
    assert given == numbers


async def test_one_idempotency_key_creates_one_chat(app: Quart, api_key: str) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    await add_numbers(rt, *POOL[:4])
    client = app.test_client()
    body = {"participants": [{"number": ALICE}, {"number": other(1)}], "reference": "r-1"}
    headers = {**auth(api_key), "Idempotency-Key": "booking-1"}

    async def post() -> tuple[int, dict[str, Any]]:
        response = await client.post("/api/v1/chats", json=body, headers=headers)
        return response.status_code, await response.get_json()

    answers = await asyncio.gather(post(), post(), post())
    assert [status for status, _ in answers] == [201, 201, 201]
    assert len({body["id"] for _, body in answers}) == 1
    async with rt.db.read() as session:
        chats = (await session.exec(select(func.count()).select_from(Chat))).one()
        records = (await session.exec(select(func.count()).select_from(IdempotencyRecord))).one()
    assert (chats, records) == (1, 1)
    assert len(await active_pairs(rt)) == 2


async def test_counters_stay_exact_while_chats_open_and_close_at_once(runtime: Runtime) -> None:
    await add_numbers(runtime, *POOL[:3])
    first = await asyncio.gather(
        *(create_with_retry(runtime, [other(2 * i), other(2 * i + 1)]) for i in range(12))
    )

    async def close(view: ChatView) -> None:
        async with runtime.db.transaction() as session:
            chat = await session.get(Chat, view.chat.id)
            assert chat is not None
            await close_chat(
                session, chat, reason="t", actor="tests", goodbye=False, templates=Templates()
            )

    # Creations and closings on the same three numbers, all at once.
    await asyncio.gather(
        *(close(view) for view in first[::2]),
        *(create_with_retry(runtime, [other(50 + 2 * i), other(51 + 2 * i)]) for i in range(12)),
    )
    async with runtime.db.read() as session:
        assert await load.count_drift(session) == []
        usage = await pool.list_numbers(session)
    assert sum(u.active_routes for u in usage) == 2 * (12 - 6 + 12)

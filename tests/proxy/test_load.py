"""Route counters on proxy numbers: kept in step by opening and closing routes, and
checked (and repaired) against a full count of participants."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from smsproxy.models import Participant, ProxyNumber
from smsproxy.proxy import load, pool
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers
from tests.proxy.test_pool import ALICE, BOB, CAROL, DAN, ERIN, GB1, GB2, US1, close, new_chat

SAM, TOM = "+12025550111", "+12025550112"


async def counters(rt: Runtime) -> dict[str, tuple[int, int]]:
    async with rt.db.read() as session:
        usage = await pool.list_numbers(session)
    return {u.number.number: (u.active_routes, u.active_chats) for u in usage}


async def drift(rt: Runtime, *, repair: bool = False) -> list[load.Drift]:
    async with rt.db.transaction() as session:
        return await load.count_drift(session, repair=repair)


async def test_counters_follow_creation_and_closing(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2, US1)
    assert await counters(runtime) == {GB1: (0, 0), GB2: (0, 0), US1: (0, 0)}
    # Three people in one country share a number; a US participant gets their own.
    mixed = await new_chat(runtime, ALICE, BOB, SAM)
    assert await counters(runtime) == {GB1: (2, 1), GB2: (0, 0), US1: (1, 1)}
    # ALICE is busy on GB1 now: this chat moves to GB2, both of them.
    await new_chat(runtime, ALICE, CAROL)
    assert await counters(runtime) == {GB1: (2, 1), GB2: (2, 1), US1: (1, 1)}
    # ALICE has no GB number left: one chat over two numbers.
    spread = await new_chat(runtime, BOB, ALICE)
    assert await counters(runtime) == {GB1: (2, 1), GB2: (3, 2), US1: (2, 2)}
    await new_chat(runtime, DAN, ERIN, TOM)
    assert await drift(runtime) == []
    await close(runtime, mixed)
    assert await counters(runtime) == {GB1: (2, 1), GB2: (3, 2), US1: (2, 2)}
    await close(runtime, spread)
    await close(runtime, spread)  # closing twice changes nothing
    assert await counters(runtime) == {GB1: (2, 1), GB2: (2, 1), US1: (1, 1)}
    assert await drift(runtime) == []


async def test_drifted_counters_are_found_and_repaired(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2)
    await new_chat(runtime, ALICE, BOB)
    async with runtime.db.transaction() as session:
        await session.exec(
            update(ProxyNumber)
            .where(col(ProxyNumber.number) == GB2)
            .values(active_routes=7, active_chats=3)
        )
    assert await drift(runtime) == [load.Drift(GB2, stored=(7, 3), actual=(0, 0))]
    assert await counters(runtime) == {GB1: (2, 1), GB2: (7, 3)}  # checking changes nothing
    assert len(await drift(runtime, repair=True)) == 1
    assert await counters(runtime) == {GB1: (2, 1), GB2: (0, 0)}
    assert await drift(runtime) == []


async def test_allocation_prefers_the_less_loaded_number_by_its_counter(
    runtime: Runtime,
) -> None:
    await add_numbers(runtime, GB1, GB2)
    await new_chat(runtime, ALICE, BOB)  # both on GB1 (the first of equals)
    async with runtime.db.transaction() as session:
        await session.exec(
            update(ProxyNumber).where(col(ProxyNumber.number) == GB1).values(active_routes=0)
        )
        await session.exec(
            update(ProxyNumber).where(col(ProxyNumber.number) == GB2).values(active_routes=5)
        )
    # The counters say GB1 is the emptier one, and allocation believes them.
    chat = await new_chat(runtime, CAROL, DAN)
    assert {p.proxy_number for p in chat.participants} == {GB1}


async def test_a_chat_counts_on_a_number_while_any_route_of_it_is_open(
    runtime: Runtime,
) -> None:
    await add_numbers(runtime, GB1)
    chat = await new_chat(runtime, ALICE, BOB)
    assert chat.chat.id is not None
    carol = Participant(chat_id=chat.chat.id, real_number=CAROL, proxy_number=GB1, position=2)
    async with runtime.db.transaction() as session:
        await load.open_routes(session, [carol])
    assert await counters(runtime) == {GB1: (3, 1)}
    async with runtime.db.transaction() as session:
        await load.close_routes(session, [await session.get(Participant, carol.id)])
    assert await counters(runtime) == {GB1: (2, 1)}
    async with runtime.db.transaction() as session:
        rest = [await session.get(Participant, p.id) for p in chat.participants]
        await load.close_routes(session, [p for p in rest if p is not None])
    assert await counters(runtime) == {GB1: (0, 0)}
    assert await drift(runtime) == []

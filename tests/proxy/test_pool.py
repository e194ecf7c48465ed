"""The number pool: route allocation (DESIGN.md rule 2) and the route index."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from smsproxy.errors import Conflict, NotFound, PoolExhausted
from smsproxy.models import Chat, Participant
from smsproxy.proxy import pool
from smsproxy.proxy.chats import ChatSpec, NewParticipant, Templates, close_chat, create_chat
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth

GB1, GB2, GB3 = "+447700900901", "+447700900902", "+447700900903"
US1 = "+12025550901"
ALICE, BOB, CAROL, DAN, ERIN = (f"+44770090010{i}" for i in range(1, 6))
SAM = "+12025550111"  # in the US


async def new_chat(rt: Runtime, *people: str) -> ChatView:
    spec = ChatSpec([NewParticipant(p) for p in people], intro=False)
    async with rt.db.transaction() as session:
        return await create_chat(session, spec, templates=Templates(), actor="tests")


async def close(rt: Runtime, view: ChatView) -> None:
    async with rt.db.transaction() as session:
        chat = await session.get(Chat, view.chat.id)
        assert chat is not None
        await close_chat(
            session, chat, reason="test", actor="tests", goodbye=False, templates=Templates()
        )


def routes(view: ChatView) -> dict[str, str]:
    return {p.real_number: p.proxy_number for p in view.participants}


async def active_routes(rt: Runtime) -> list[tuple[str, str]]:
    async with rt.db.read() as session:
        rows = await session.exec(
            select(Participant.real_number, Participant.proxy_number).where(col(Participant.active))
        )
        return list(rows.all())


async def test_a_person_gets_a_distinct_number_per_chat_until_the_pool_runs_out(
    runtime: Runtime,
) -> None:
    await add_numbers(runtime, GB1, GB2, GB3)
    chats = [await new_chat(runtime, ALICE, other) for other in (BOB, CAROL, DAN)]
    alice_numbers = [routes(view)[ALICE] for view in chats]
    assert sorted(alice_numbers) == [GB1, GB2, GB3]

    with pytest.raises(PoolExhausted) as caught:
        await new_chat(runtime, ALICE, ERIN)
    error = caught.value
    assert error.status == 409
    assert error.field == "participants.0.number"
    assert "participant 1 (+44770•••••01)" in error.message
    assert "all 3 enabled numbers" in error.message
    assert ALICE not in error.message

    found = await active_routes(runtime)
    assert len(found) == len(set(found)) == 6


async def test_exhaustion_names_the_participant_who_has_no_number(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)
    await new_chat(runtime, BOB, CAROL)
    with pytest.raises(PoolExhausted) as caught:
        await new_chat(runtime, ALICE, BOB)
    assert caught.value.field == "participants.1.number"
    assert "participant 2 (+44770•••••02)" in caught.value.message
    assert "all 1 enabled number of the pool" in caught.value.message


async def test_an_empty_pool_says_to_add_a_number(runtime: Runtime) -> None:
    with pytest.raises(PoolExhausted, match="no enabled proxy numbers"):
        await new_chat(runtime, ALICE, BOB)


async def test_a_failed_creation_leaves_nothing_behind(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)
    await new_chat(runtime, BOB, CAROL)
    with pytest.raises(PoolExhausted):
        await new_chat(runtime, ALICE, BOB)
    async with runtime.db.read() as session:
        assert len((await session.exec(select(Chat))).all()) == 1
    assert len(await active_routes(runtime)) == 2


async def test_participants_share_one_number_when_they_can(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2)
    view = await new_chat(runtime, ALICE, BOB, CAROL)
    assert set(routes(view).values()) == {GB1}


async def test_country_comes_before_sharing_one_number(runtime: Runtime) -> None:
    await add_numbers(runtime, US1, GB1)
    view = await new_chat(runtime, ALICE, SAM)
    assert routes(view) == {ALICE: GB1, SAM: US1}


async def test_without_a_number_in_their_country_a_person_gets_another(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)
    view = await new_chat(runtime, SAM, ALICE)
    assert routes(view) == {SAM: GB1, ALICE: GB1}


async def test_country_match_holds_while_the_country_has_a_free_number(runtime: Runtime) -> None:
    await add_numbers(runtime, US1, GB1, GB2)
    first = await new_chat(runtime, ALICE, BOB)
    second = await new_chat(runtime, ALICE, CAROL)
    assert routes(first)[ALICE] in {GB1, GB2}
    assert {routes(first)[ALICE], routes(second)[ALICE]} == {GB1, GB2}
    third = await new_chat(runtime, ALICE, DAN)  # the GB numbers are taken for Alice
    assert routes(third)[ALICE] == US1


async def test_the_least_loaded_number_is_chosen(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2, GB3)
    busy = await new_chat(runtime, BOB, CAROL, DAN)
    assert set(routes(busy).values()) == {GB1}
    less_busy = await new_chat(runtime, ERIN, "+447700900198")
    assert set(routes(less_busy).values()) == {GB2}  # GB1 carries 3 routes
    view = await new_chat(runtime, ALICE, "+447700900199")
    assert set(routes(view).values()) == {GB3}  # the only number with no route


async def test_the_same_number_is_shared_even_when_it_is_busier(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2)
    await new_chat(runtime, ALICE, BOB)  # both on GB1
    view = await new_chat(runtime, ALICE, CAROL)
    # Alice must move to GB2; Carol could take the idle-by-her GB1 but shares GB2.
    assert routes(view) == {ALICE: GB2, CAROL: GB2}


async def test_disabled_numbers_are_never_allocated(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2)
    async with runtime.db.transaction() as session:
        await pool.set_enabled(session, GB1, False)
    view = await new_chat(runtime, ALICE, BOB)
    assert set(routes(view).values()) == {GB2}
    with pytest.raises(PoolExhausted, match="all 1 enabled number"):
        await new_chat(runtime, ALICE, CAROL)
    async with runtime.db.transaction() as session:
        await pool.set_enabled(session, GB2, False)
    with pytest.raises(PoolExhausted, match="no enabled proxy numbers"):
        await new_chat(runtime, DAN, ERIN)


async def test_closing_a_chat_frees_its_routes_at_once(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2)
    first = await new_chat(runtime, ALICE, BOB)
    await new_chat(runtime, ALICE, CAROL)
    with pytest.raises(PoolExhausted):
        await new_chat(runtime, ALICE, DAN)
    await close(runtime, first)
    again = await new_chat(runtime, ALICE, DAN)
    assert routes(again)[ALICE] == routes(first)[ALICE]
    async with runtime.db.read() as session:
        old = (
            await session.exec(select(Participant).where(Participant.chat_id == first.chat.id))
        ).all()
    assert [p.active for p in old] == [False, False]


async def test_the_route_index_refuses_a_second_active_route(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)
    view = await new_chat(runtime, ALICE, BOB)
    assert view.chat.id is not None
    with pytest.raises(IntegrityError) as caught:
        async with runtime.db.transaction() as session:
            session.add(Participant(chat_id=view.chat.id, real_number=ALICE, proxy_number=GB1))
    assert "uq_participant_active_route" in str(caught.value) or (
        "participant.real_number, participant.proxy_number" in str(caught.value)
    )


async def test_the_route_index_allows_the_pair_again_once_inactive(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)
    view = await new_chat(runtime, ALICE, BOB)
    assert view.chat.id is not None
    async with runtime.db.transaction() as session:
        # An inactive duplicate beside the active route, then a route for someone else.
        session.add(
            Participant(chat_id=view.chat.id, real_number=ALICE, proxy_number=GB1, active=False)
        )
        session.add(Participant(chat_id=view.chat.id, real_number=CAROL, proxy_number=GB1))
    await close(runtime, view)
    async with runtime.db.transaction() as session:
        session.add(Participant(chat_id=view.chat.id, real_number=ALICE, proxy_number=GB1))
    assert (ALICE, GB1) in await active_routes(runtime)


async def test_add_number_parses_and_records_the_country(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        record = await pool.add_number(session, "07700 900901", label=" main ", default_region="GB")
    assert (record.number, record.country, record.label, record.enabled) == (
        GB1,
        "GB",
        "main",
        True,
    )


async def test_add_number_refuses_duplicates_and_participant_numbers(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)
    with pytest.raises(Conflict, match="already in the pool"):
        await add_numbers(runtime, "447700900901")
    await new_chat(runtime, ALICE, BOB)
    with pytest.raises(Conflict, match="belongs to a participant"):
        await add_numbers(runtime, ALICE)


async def test_list_numbers_counts_routes_and_chats(runtime: Runtime) -> None:
    await add_numbers(runtime, GB2, GB1)
    await new_chat(runtime, ALICE, BOB, CAROL)
    closed = await new_chat(runtime, DAN, ERIN)
    await close(runtime, closed)
    async with runtime.db.read() as session:
        usage = await pool.list_numbers(session)
    assert [(u.number.number, u.active_routes, u.active_chats) for u in usage] == [
        (GB1, 3, 1),
        (GB2, 0, 0),
    ]


async def test_remove_number(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1, GB2)
    view = await new_chat(runtime, ALICE, BOB)
    with pytest.raises(Conflict, match="carries 1 active chat:"):
        async with runtime.db.transaction() as session:
            await pool.remove_number(session, GB1)
    with pytest.raises(NotFound, match="not in the pool"):
        async with runtime.db.transaction() as session:
            await pool.remove_number(session, GB3)
    await close(runtime, view)
    async with runtime.db.transaction() as session:
        await pool.remove_number(session, "447700900901")
    async with runtime.db.read() as session:
        assert [u.number.number for u in await pool.list_numbers(session)] == [GB2]


async def test_adding_one_number_twice_at_once_is_a_conflict(runtime: Runtime) -> None:
    results = await asyncio.gather(
        add_numbers(runtime, GB1), add_numbers(runtime, GB1), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "NoneType"]
    assert any("already in the pool" in str(r) for r in results)
    async with runtime.db.read() as session:
        assert [u.number.number for u in await pool.list_numbers(session)] == [GB1]


# Removing numbers while chats are created on them: races only PostgreSQL can have
# (SQLite takes its write lock at BEGIN, so its transactions never interleave). Each
# test holds one transaction open at the racy point, lets the other run until it is
# done or waits on a lock, then lets the first commit: the same interleaving every run.

postgres_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgresql://", "postgres://")),
    reason="needs PostgreSQL (DATABASE_URL=postgresql://...): SQLite serialises writers, "
    "so these transactions never interleave there",
)


async def held_open(
    rt: Runtime,
    work: Callable[[AsyncSession], Awaitable[Any]],
    reached: asyncio.Event,
    release: asyncio.Event,
) -> Any:
    """Run `work` in a transaction that commits only once `release` is set."""
    async with rt.db.transaction() as session:
        result = await work(session)
        reached.set()
        await release.wait()
    return result


async def blocked_or_done(rt: Runtime, task: asyncio.Task[Any]) -> None:
    """Return once `task` has finished, or some transaction waits on a lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while not task.done():
            async with rt.db.read() as session:
                if (await session.exec(query)).one()[0]:  # type: ignore[call-overload]
                    return
            await asyncio.sleep(0.01)


async def race(
    rt: Runtime,
    first: Callable[[AsyncSession], Awaitable[Any]],
    second: Callable[[AsyncSession], Awaitable[Any]],
) -> list[Any]:
    """`first` does its work and holds its transaction open while `second` runs as far
    as it can; then `first` commits. Returns both outcomes (results or exceptions)."""
    reached, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(held_open(rt, first, reached, release))
    await reached.wait()

    async def in_transaction() -> Any:
        async with rt.db.transaction() as session:
            return await second(session)

    other = asyncio.create_task(in_transaction())
    await blocked_or_done(rt, other)
    release.set()
    return list(await asyncio.gather(holder, other, return_exceptions=True))


async def routes_on_missing_numbers(rt: Runtime) -> list[tuple[str, str]]:
    async with rt.db.read() as session:
        pool_numbers = {u.number.number for u in await pool.list_numbers(session)}
    return [pair for pair in await active_routes(rt) if pair[1] not in pool_numbers]


def create(*people: str) -> Callable[[AsyncSession], Awaitable[ChatView]]:
    spec = ChatSpec([NewParticipant(p) for p in people], intro=False)
    return lambda session: create_chat(session, spec, templates=Templates(), actor="tests")


def remove(number: str) -> Callable[[AsyncSession], Awaitable[Any]]:
    return lambda session: pool.remove_number(session, number)


@postgres_only
async def test_a_number_cannot_be_removed_under_a_chat_being_created(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)

    created, removed = await race(runtime, create(ALICE, BOB), remove(GB1))

    assert isinstance(created, ChatView), created
    assert isinstance(removed, Conflict) and "carries 1 active chat" in removed.message
    assert await routes_on_missing_numbers(runtime) == []
    assert sorted(await active_routes(runtime)) == [(ALICE, GB1), (BOB, GB1)]


@postgres_only
async def test_a_chat_created_while_its_number_is_removed_takes_another(
    runtime: Runtime,
) -> None:
    await add_numbers(runtime, GB1, GB2)  # GB1 is the one a new chat picks first

    removed, created = await race(runtime, remove(GB1), create(ALICE, BOB))

    assert not isinstance(removed, BaseException), removed
    assert isinstance(created, ChatView), created
    assert set(routes(created).values()) == {GB2}
    assert await routes_on_missing_numbers(runtime) == []


@postgres_only
async def test_a_chat_created_while_its_only_number_is_removed_is_refused(
    runtime: Runtime,
) -> None:
    await add_numbers(runtime, GB1)

    removed, created = await race(runtime, remove(GB1), create(ALICE, BOB))

    assert not isinstance(removed, BaseException), removed
    assert isinstance(created, PoolExhausted), created
    assert await active_routes(runtime) == []


@postgres_only
async def test_a_chat_created_while_its_number_is_disabled_takes_another(
    runtime: Runtime,
) -> None:
    await add_numbers(runtime, GB1, GB2)

    async def disable(session: AsyncSession) -> Any:
        record = await pool.set_enabled(session, GB1, False)
        await session.flush()  # the UPDATE itself, not only its intent
        return record

    _, created = await race(runtime, disable, create(ALICE, BOB))

    assert isinstance(created, ChatView), created
    assert set(routes(created).values()) == {GB2}


@postgres_only
async def test_two_removals_of_one_number_at_once(runtime: Runtime) -> None:
    await add_numbers(runtime, GB1)

    first, second = await race(runtime, remove(GB1), remove(GB1))

    assert not isinstance(first, BaseException), first
    assert isinstance(second, NotFound) and "not in the pool" in second.message


async def test_two_api_deletes_at_once_answer_204_and_404(app: Quart, api_key: str) -> None:
    # On SQLite too, where the two simply take turns.
    rt: Runtime = app.extensions["smsproxy"]
    numbers = [f"+4477009008{i:02d}" for i in range(5)]  # several tries at the race
    await add_numbers(rt, *numbers)
    client = app.test_client()

    answers = []
    for number in numbers:
        responses = await asyncio.gather(
            *(client.delete(f"/api/v1/numbers/{number}", headers=auth(api_key)) for _ in range(2))
        )
        answers.append(sorted(r.status_code for r in responses))

    assert answers == [[204, 404]] * len(numbers)

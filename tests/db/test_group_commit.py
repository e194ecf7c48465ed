"""Group commit: units of work that arrive together share one transaction, each caller
learns its own outcome only after the commit, and one failure fails only itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from smsproxy import events
from smsproxy.carrier import InboundSms
from smsproxy.db import before_commit
from smsproxy.models import Chat, Delivery, EventRecord, Message, ProxyNumber
from smsproxy.proxy.routing import Route
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"


def add_number(number: str, *, fail: bool = False) -> Callable[[AsyncSession], Awaitable[str]]:
    async def work(session: AsyncSession) -> str:
        session.add(ProxyNumber(number=number, country="GB"))
        events.emit(session, events.NumberChanged(number, "added"))
        await session.flush()
        if fail:
            raise ValueError(f"no thanks: {number}")
        return number

    return work


async def numbers_and_events(rt: Runtime) -> tuple[list[str], list[str]]:
    async with rt.db.read() as session:
        numbers = (await session.exec(select(ProxyNumber.number))).all()
        noted = (await session.exec(select(EventRecord.payload))).all()
    return sorted(numbers), sorted(payload["number"] for payload in noted)


async def test_sms_arriving_together_commit_together(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    before = runtime.writer.batches
    texts = [InboundSms(ALICE, P1, f"GC{n}", f"text {n}") for n in range(20)]

    outcomes = await asyncio.gather(*(runtime.ingress.receive_sms(sms) for sms in texts))

    assert [outcome.route for outcome in outcomes] == [Route.routed] * 20
    assert runtime.writer.batches - before == 1  # one transaction, one commit
    async with runtime.db.read() as session:
        messages = await session.exec(select(Message).where(Message.chat_id == view.chat.id))
        deliveries = (await session.exec(select(Delivery))).all()
        chat = await session.get(Chat, view.chat.id)
    assert sorted(str(m.carrier_message_id) for m in messages.all()) == sorted(
        f"GC{n}" for n in range(20)
    )
    assert sorted(d.body for d in deliveries) == sorted(f"text {n}" for n in range(20))
    assert chat is not None and chat.last_activity_at > view.chat.last_activity_at


async def test_one_failing_unit_of_work_fails_alone(runtime: Runtime) -> None:
    before = runtime.writer.batches
    good = ["+447700900001", "+447700900002", "+447700900004", "+447700900005"]
    works = [add_number(n) for n in good[:2]]
    works.append(add_number("+447700900003", fail=True))
    works += [add_number(n) for n in good[2:]]

    results = await asyncio.gather(
        *(runtime.writer.run(work) for work in works),
        return_exceptions=True,
    )

    assert results[:2] + results[3:] == good
    assert isinstance(results[2], ValueError) and "+447700900003" in str(results[2])
    assert runtime.writer.batches - before == 1
    # Neither its row nor the event it noted was kept; its neighbours' were.
    assert await numbers_and_events(runtime) == (good, good)


async def test_a_lone_unit_of_work_gets_its_own_error(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="no thanks"):
        await runtime.writer.run(add_number("+447700900003", fail=True))

    assert await numbers_and_events(runtime) == ([], [])


async def test_a_failed_commit_fails_every_caller(runtime: Runtime) -> None:
    async def refuse(session: AsyncSession) -> None:
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    async def poisoned(session: AsyncSession) -> str:
        before_commit(session, "test.refuse", refuse)  # the commit itself will fail
        return "never committed"

    works = [add_number("+447700900001"), poisoned, add_number("+447700900002")]
    results = await asyncio.gather(
        *(runtime.writer.run(work) for work in works),
        return_exceptions=True,
    )

    assert all(isinstance(result, OperationalError) for result in results)
    assert await numbers_and_events(runtime) == ([], [])


async def test_work_is_committed_even_when_its_caller_gives_up(runtime: Runtime) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(session: AsyncSession) -> None:
        started.set()
        await release.wait()

    blocker = asyncio.create_task(runtime.writer.run(slow))
    await started.wait()
    impatient = asyncio.create_task(runtime.writer.run(add_number("+447700900001")))
    await asyncio.sleep(0)  # submitted, waiting behind the batch under way
    impatient.cancel()
    release.set()
    await blocker
    await runtime.writer.aclose()

    assert impatient.cancelled()
    assert await numbers_and_events(runtime) == (["+447700900001"], ["+447700900001"])


async def test_the_activity_of_a_chat_is_written_once_per_batch(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    statements: list[str] = []
    from sqlalchemy import event

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await asyncio.gather(
            *(runtime.ingress.receive_sms(InboundSms(ALICE, P1, f"A{n}", "hi")) for n in range(5))
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len([s for s in statements if s.startswith("UPDATE chat")]) == 1
    async with runtime.db.read() as session:
        chat = await session.get(Chat, view.chat.id)
        newest = (
            await session.exec(select(Message.created_at).order_by(col(Message.id).desc()))
        ).first()
    assert chat is not None and chat.last_activity_at == newest

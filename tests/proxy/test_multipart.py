"""Multipart SMS: reassembly in any order, retries, and the flusher for sets that stall."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import col, select

from smsproxy.carrier import InboundSms
from smsproxy.db import utcnow
from smsproxy.models import Delivery, InboundPart, Message
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.multipart import MISSING_PART, flush_expired
from smsproxy.proxy.routing import Outcome, Route, RoutingOptions
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
OPTIONS = RoutingOptions(ended_reply="Ended.")
TIMEOUT = timedelta(seconds=60)
TEXTS = ["The gate code is 4", "512; ring twice and ", "wait by the blue door."]


def part(number: int, ref: str = "A1", total: int = 3, message_id: str | None = None) -> InboundSms:
    return InboundSms(
        sender=ALICE,
        to=P1,
        carrier_message_id=message_id or f"{ref}-part{number}",
        text=TEXTS[number - 1],
        concat_ref=ref,
        concat_total=total,
        concat_part=number,
    )


async def send(rt: Runtime, inbound: InboundSms, now=None) -> Outcome:  # type: ignore[no-untyped-def]
    async with rt.db.transaction() as session:
        return await receive_sms(session, inbound, OPTIONS, now)


async def messages(rt: Runtime) -> list[Message]:
    async with rt.db.read() as session:
        return list((await session.exec(select(Message).order_by(col(Message.id)))).all())


async def stored_parts(rt: Runtime, forwarded: bool = False) -> list[InboundPart]:
    """The parts waiting for their set (or, with `forwarded`, every row kept)."""
    query = select(InboundPart)
    if not forwarded:
        query = query.where(col(InboundPart.forwarded_at).is_(None))
    async with rt.db.read() as session:
        return list((await session.exec(query)).all())


async def deliveries(rt: Runtime) -> list[Delivery]:
    async with rt.db.read() as session:
        return list((await session.exec(select(Delivery))).all())


async def chat_with_alice(rt: Runtime) -> None:
    await add_numbers(rt, P1)
    await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))


async def test_parts_in_any_order_make_one_message(runtime: Runtime) -> None:
    await chat_with_alice(runtime)

    second = await send(runtime, part(2))
    third = await send(runtime, part(3))
    assert (second.route, third.route) == (Route.buffered, Route.buffered)
    assert await messages(runtime) == []
    assert len(await stored_parts(runtime)) == 2

    first = await send(runtime, part(1))

    assert first.route == Route.routed
    [message] = await messages(runtime)
    assert message.body == "".join(TEXTS)
    assert message.carrier_message_id == "A1-part1"
    [delivery] = first.deliveries
    assert (delivery.to_number, delivery.body) == (BOB, "".join(TEXTS))
    assert await stored_parts(runtime) == []


async def test_retried_parts_are_duplicates(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    await send(runtime, part(1))
    again = await send(runtime, part(1))
    assert again.route == Route.duplicate
    assert len(await stored_parts(runtime)) == 1

    await send(runtime, part(3))
    await send(runtime, part(2))
    # The whole message went; a late retry of its first part changes nothing.
    late = await send(runtime, part(1))

    assert late.route == Route.duplicate
    assert len(await messages(runtime)) == 1
    assert await stored_parts(runtime) == []


async def test_a_retried_later_part_of_a_forwarded_set_is_a_duplicate(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    start = utcnow()
    for number in (1, 2, 3):
        await send(runtime, part(number), now=start)

    again = await send(runtime, part(2), now=start + timedelta(seconds=5))

    assert again.route == Route.duplicate
    assert await stored_parts(runtime) == []
    flushed = await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(hours=1))
    assert flushed == 0
    assert len(await messages(runtime)) == 1
    assert len(await deliveries(runtime)) == 1


async def test_a_retried_part_of_a_flushed_set_is_a_duplicate(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    start = utcnow()
    await send(runtime, part(2), now=start)
    await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(seconds=61))

    again = await send(runtime, part(2), now=start + timedelta(seconds=90))

    assert again.route == Route.duplicate
    assert len(await messages(runtime)) == 1 and len(await deliveries(runtime)) == 1


async def test_forwarded_parts_are_forgotten_after_a_day(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    start = utcnow()
    for number in (1, 2, 3):
        await send(runtime, part(number), now=start)
    assert len(await stored_parts(runtime, forwarded=True)) == 3

    await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(hours=23))
    assert len(await stored_parts(runtime, forwarded=True)) == 3
    await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(hours=25))

    assert await stored_parts(runtime, forwarded=True) == []
    assert len(await messages(runtime)) == 1


async def test_a_reused_reference_starts_a_new_set(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    for number in (1, 2):
        await send(runtime, part(number, total=2))

    for number in (1, 2):
        outcome = await send(runtime, part(number, total=2, message_id=f"new-{number}"))

    assert outcome.route == Route.routed
    bodies = [m.body for m in await messages(runtime)]
    assert bodies == [TEXTS[0] + TEXTS[1]] * 2
    assert len(await deliveries(runtime)) == 2


async def test_the_same_part_under_a_new_id_is_kept_once(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    await send(runtime, part(2))
    other = await send(runtime, part(2, message_id="other-id"))
    assert other.route == Route.duplicate
    assert [p.carrier_message_id for p in await stored_parts(runtime)] == ["A1-part2"]


async def test_sets_are_kept_apart_by_reference(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    await send(runtime, part(1, ref="R1", total=2))
    await send(runtime, part(1, ref="R2", total=2))
    await send(runtime, part(2, ref="R2", total=2))

    [message] = await messages(runtime)
    assert message.carrier_message_id == "R2-part1"
    assert [p.concat_ref for p in await stored_parts(runtime)] == ["R1"]


async def test_an_incomplete_set_is_forwarded_after_the_timeout(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    start = utcnow()
    await send(runtime, part(1), now=start)
    await send(runtime, part(3), now=start + timedelta(seconds=30))

    early = await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(seconds=59))
    assert early == 0 and await messages(runtime) == []

    flushed = await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(seconds=61))

    assert flushed == 1
    [message] = await messages(runtime)
    assert message.body == TEXTS[0] + MISSING_PART + TEXTS[2]
    async with runtime.db.read() as session:
        [delivery] = (await session.exec(select(Delivery))).all()
    assert (delivery.to_number, delivery.body) == (BOB, message.body)
    assert await stored_parts(runtime) == []
    # Nothing is left to flush, and the part that never came is a new set if it comes.
    later = start + timedelta(seconds=200)
    assert await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=later) == 0


async def test_a_set_missing_its_first_part_still_gets_a_stable_id(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    start = utcnow()
    await send(runtime, part(2), now=start)

    await flush_expired(runtime.db, OPTIONS, TIMEOUT, now=start + timedelta(minutes=5))

    [message] = await messages(runtime)
    assert message.body == MISSING_PART + TEXTS[1] + MISSING_PART
    assert message.carrier_message_id == "A1-part2"


async def test_concurrent_parts_complete_exactly_once(runtime: Runtime) -> None:
    await chat_with_alice(runtime)

    outcomes = await asyncio.gather(*(send(runtime, part(n)) for n in (3, 1, 2)))

    assert sorted(o.route for o in outcomes) == [Route.buffered, Route.buffered, Route.routed]
    [message] = await messages(runtime)
    assert message.body == "".join(TEXTS)


async def test_concurrent_flushers_forward_once(runtime: Runtime) -> None:
    await chat_with_alice(runtime)
    start = utcnow()
    await send(runtime, part(1), now=start)
    later = start + timedelta(minutes=2)

    counts = await asyncio.gather(
        *(flush_expired(runtime.db, OPTIONS, TIMEOUT, now=later) for _ in range(3))
    )

    assert sum(counts) == 1
    assert len(await messages(runtime)) == 1


async def test_unrouted_parts_are_reassembled_too(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await send(runtime, part(2, total=2))
    outcome = await send(runtime, part(1, total=2))
    assert outcome.route == Route.unrouted
    assert outcome.message is not None and outcome.message.body == TEXTS[0] + TEXTS[1]


def test_the_flusher_runs_in_the_background(runtime: Runtime) -> None:
    assert "multipart" in runtime.jobs()

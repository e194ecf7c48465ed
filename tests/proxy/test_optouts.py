"""Opt-out across the whole pool: STOP to any proxy number silences every proxy number
for that person; START undoes it; HELP is answered; none of them is forwarded."""

from __future__ import annotations

import pytest
from sqlmodel import select

from smsproxy.carrier import InboundSms, Receipt, SendResult
from smsproxy.models import (
    AuditEvent,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    EventRecord,
    Message,
    OptOut,
    Participant,
    Screening,
)
from smsproxy.outbox.claims import claim_due
from smsproxy.outbox.results import record_sent
from smsproxy.proxy.inbound import receive_receipt, receive_sms
from smsproxy.proxy.keywords import Keywords
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.options import Outcome, Route, RoutingOptions
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1, P2, P3 = "+447700900901", "+447700900902", "+447700900903"
ALICE, BOB, CAROL = "+447700900101", "+447700900102", "+447700900103"
OPTIONS = RoutingOptions(
    ended_reply="Ended.",
    opt_out_reply="You are unsubscribed.",
    opt_in_reply="You are subscribed again.",
    help_reply="Help is here.",
)
_ids = iter(range(1, 10_000))


async def text(
    rt: Runtime, sender: str, to: str, body: str, options: RoutingOptions = OPTIONS
) -> Outcome:
    async with rt.db.transaction() as session:
        inbound = InboundSms(sender=sender, to=to, carrier_message_id=f"M{next(_ids)}", text=body)
        return await receive_sms(session, inbound, options)


async def all_rows(rt: Runtime, model: type, *where: object) -> list:
    async with rt.db.read() as session:
        query = select(model).where(*where)
        return list((await session.exec(query)).all())


async def two_chats(rt: Runtime) -> tuple[ChatView, ChatView]:
    """Alice talks to Bob on one number and to Carol on another."""
    await add_numbers(rt, P1, P2, P3)
    with_bob = await start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"))
    with_carol = await start_chat(rt, (ALICE, "Alice"), (CAROL, "Carol"))
    return with_bob, with_carol


def route_of(view: ChatView, number: str) -> str:
    return next(p.proxy_number for p in view.participants if p.real_number == number)


async def test_stop_to_any_number_silences_every_number(runtime: Runtime) -> None:
    with_bob, with_carol = await two_chats(runtime)
    assert route_of(with_bob, ALICE) != route_of(with_carol, ALICE)

    # To the one number of the pool Alice has no chat on.
    stop = await text(runtime, ALICE, P3, "STOP")

    assert stop.route == Route.keyword
    [confirmation] = stop.deliveries
    assert (confirmation.kind, confirmation.status) == (
        DeliveryKind.keyword_reply,
        DeliveryStatus.queued,
    )
    assert (confirmation.from_number, confirmation.to_number) == (P3, ALICE)
    assert confirmation.body == "You are unsubscribed."
    from_bob = await text(runtime, BOB, route_of(with_bob, BOB), "Where are you?")
    from_carol = await text(runtime, CAROL, route_of(with_carol, CAROL), "Hello?")
    for outcome in (from_bob, from_carol):
        [delivery] = outcome.deliveries
        assert delivery.to_number == ALICE
        assert delivery.status == DeliveryStatus.suppressed
        assert "opted out" in (delivery.error or "")
    async with runtime.db.transaction() as session:
        staff = await send_staff_message(
            session, with_carol.chat.public_id, "From staff", staff_user_id=None, actor="t"
        )
    statuses = {d.to_number: d.status for d in staff.deliveries}
    assert statuses == {ALICE: DeliveryStatus.suppressed, CAROL: DeliveryStatus.queued}
    alice_rows = await all_rows(runtime, Participant, Participant.real_number == ALICE)
    assert [p.opted_out for p in alice_rows] == [True, True]


async def test_stop_is_recorded_and_announced_but_never_forwarded(runtime: Runtime) -> None:
    with_bob, _ = await two_chats(runtime)

    stop = await text(runtime, ALICE, route_of(with_bob, ALICE), " Stop\n")

    assert stop.route == Route.keyword
    assert [d.kind for d in stop.deliveries] == [DeliveryKind.keyword_reply]
    [message] = await all_rows(runtime, Message, Message.chat_id == with_bob.chat.id)
    assert (message.body, message.screening) == (" Stop\n", Screening.keyword)
    assert message.screening_note == "STOP: opted out of SMS from every proxy number"
    [opt_out] = await all_rows(runtime, OptOut)
    assert (opt_out.number, opt_out.source, opt_out.keyword) == (ALICE, "keyword", "STOP")
    assert opt_out.proxy_number == route_of(with_bob, ALICE)
    events = await all_rows(runtime, EventRecord, EventRecord.name == "participant.opted_out")
    assert len(events) == 2, "one for each chat Alice is active in"
    for event in events:
        assert event.payload["number"] == "+44770•••••01"
        assert event.payload["keyword"] == "STOP" and event.payload["source"] == "keyword"
        assert ALICE[1:] not in str(event.payload)
    [audit] = await all_rows(runtime, AuditEvent, AuditEvent.action == "participant.opt_out")
    assert audit.target == "+44770•••••01"


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop ", "STOP ALL", "stop\n", "UnSubscribe", "quit", "End"]
)
async def test_opt_out_keywords_are_whole_messages_in_any_case(runtime: Runtime, body: str) -> None:
    await add_numbers(runtime, P1)
    assert (await text(runtime, ALICE, P1, body)).route == Route.keyword
    assert [o.number for o in await all_rows(runtime, OptOut)] == [ALICE]


@pytest.mark.parametrize("body", ["Stop at the corner", "stop!", "STOPPING", "please stop", ""])
async def test_other_texts_are_not_keywords(runtime: Runtime, body: str) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Alice"), (BOB, "Bob"))

    outcome = await text(runtime, ALICE, route_of(view, ALICE), body)

    assert outcome.route == Route.routed
    assert await all_rows(runtime, OptOut) == []


async def test_a_second_stop_gets_no_second_confirmation(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    first = await text(runtime, ALICE, P1, "STOP")
    again = await text(runtime, ALICE, P1, "STOPALL")

    assert len(first.deliveries) == 1
    assert again.route == Route.keyword and again.deliveries == []


async def test_sms_queued_before_the_stop_are_suppressed_at_once(runtime: Runtime) -> None:
    with_bob, _ = await two_chats(runtime)
    earlier = await text(runtime, BOB, route_of(with_bob, BOB), "Are you there?")
    [queued] = earlier.deliveries
    assert queued.status == DeliveryStatus.queued

    await text(runtime, ALICE, P3, "stop")

    [after] = await all_rows(runtime, Delivery, Delivery.id == queued.id)
    assert after.status == DeliveryStatus.suppressed
    updates = await all_rows(runtime, EventRecord, EventRecord.name == "delivery.updated")
    assert [e.payload["status"] for e in updates if e.payload["delivery_id"] == queued.public_id][
        -1
    ] == "suppressed"


async def test_the_claim_never_sends_to_an_opted_out_number(runtime: Runtime) -> None:
    """Whatever slipped past (an opt-out written by another process between queueing
    and sending), the outbox claim checks the opt-out table itself."""
    with_bob, _ = await two_chats(runtime)
    [to_alice] = (await text(runtime, BOB, route_of(with_bob, BOB), "Hi")).deliveries
    [to_bob] = (await text(runtime, ALICE, route_of(with_bob, ALICE), "Hi")).deliveries
    async with runtime.db.transaction() as session:
        session.add(OptOut(number=ALICE, source="keyword", keyword="STOP"))

    claimed = await claim_due(runtime.db, limit=10)

    assert [d.id for d in claimed] == [to_bob.id]
    [after] = await all_rows(runtime, Delivery, Delivery.id == to_alice.id)
    assert (after.status, after.attempts) == (DeliveryStatus.suppressed, 0)


async def test_the_confirmation_itself_is_sent(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    stop = await text(runtime, ALICE, P1, "STOP")

    claimed = await claim_due(runtime.db, limit=10)

    assert [d.id for d in claimed] == [d.id for d in stop.deliveries]


async def test_start_undoes_it_everywhere_with_a_confirmation(runtime: Runtime) -> None:
    with_bob, with_carol = await two_chats(runtime)
    await text(runtime, ALICE, P3, "STOP")

    start = await text(runtime, ALICE, route_of(with_carol, ALICE), "start")

    assert start.route == Route.keyword
    [confirmation] = start.deliveries
    assert confirmation.body == "You are subscribed again."
    assert await all_rows(runtime, OptOut) == []
    [delivery] = (await text(runtime, BOB, route_of(with_bob, BOB), "Back?")).deliveries
    assert delivery.status == DeliveryStatus.queued
    alice_rows = await all_rows(runtime, Participant, Participant.real_number == ALICE)
    assert not any(p.opted_out for p in alice_rows)
    opted_in = await all_rows(runtime, EventRecord, EventRecord.name == "participant.opted_in")
    assert len(opted_in) == 2


async def test_start_without_an_opt_out_changes_nothing(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Alice"), (BOB, "Bob"))

    outcome = await text(runtime, ALICE, route_of(view, ALICE), "UNSTOP")

    assert (outcome.route, outcome.deliveries) == (Route.keyword, [])


async def test_help_is_answered_and_not_forwarded(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Alice"), (BOB, "Bob"))

    outcome = await text(runtime, ALICE, route_of(view, ALICE), "help")

    [reply] = outcome.deliveries
    assert (reply.to_number, reply.body, reply.kind) == (ALICE, "Help is here.", "keyword_reply")
    assert await all_rows(runtime, OptOut) == []


async def test_keywords_are_configurable(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    options = RoutingOptions(
        keywords=Keywords.from_lists("ARRET, stop", "commencer", "aide"), opt_out_reply="OK"
    )

    arret = await text(runtime, ALICE, P1, "arret", options)
    quit_ = await text(runtime, BOB, P1, "QUIT", options)

    assert arret.route == Route.keyword and quit_.route == Route.unrouted
    assert [o.number for o in await all_rows(runtime, OptOut)] == [ALICE]


async def test_a_new_chat_with_an_opted_out_number_marks_it(runtime: Runtime) -> None:
    await add_numbers(runtime, P1, P2)
    await text(runtime, ALICE, P1, "STOP")

    view = await start_chat(runtime, (ALICE, "Alice"), (BOB, "Bob"), intro=True)

    flags = {p.real_number: p.opted_out for p in view.participants}
    assert flags == {ALICE: True, BOB: False}
    intros = await all_rows(runtime, Delivery, Delivery.kind == DeliveryKind.intro)
    assert {d.to_number: d.status for d in intros} == {
        ALICE: DeliveryStatus.suppressed,
        BOB: DeliveryStatus.queued,
    }


async def test_no_ended_reply_to_an_opted_out_number(runtime: Runtime) -> None:
    await add_numbers(runtime, P1, P2)
    await text(runtime, ALICE, P1, "STOP")

    outcome = await text(runtime, ALICE, P2, "Hello?")

    [reply] = outcome.deliveries
    assert (reply.kind, reply.status) == (DeliveryKind.ended_reply, DeliveryStatus.suppressed)


async def sent_to_bob(rt: Runtime, message_id: str) -> Delivery:
    await add_numbers(rt, P1)
    view = await start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"))
    [delivery] = (await text(rt, ALICE, route_of(view, ALICE), "Hi")).deliveries
    [claimed] = await claim_due(rt.db, limit=1)
    async with rt.db.transaction() as session:
        await record_sent(session, claimed, SendResult(message_ids=[message_id]))
    return delivery


@pytest.mark.parametrize("status", ["failed", "rejected"])
async def test_a_carrier_receipt_saying_opted_out_opts_out(runtime: Runtime, status: str) -> None:
    """Vonage: status failed or rejected with err-code 9 when Opt-Out Assist blocked it."""
    delivery = await sent_to_bob(runtime, "V-1")

    async with runtime.db.transaction() as session:
        await receive_receipt(session, Receipt("V-1", status, "9"))

    [opt_out] = await all_rows(runtime, OptOut)
    assert (opt_out.number, opt_out.source, opt_out.proxy_number) == (BOB, "carrier", P1)
    [after] = await all_rows(runtime, Delivery, Delivery.id == delivery.id)
    assert "opted out" in (after.error or "")


@pytest.mark.parametrize(
    ("status", "code"), [("failed", "6"), ("delivered", "9"), ("failed", None)]
)
async def test_other_receipts_opt_nobody_out(
    runtime: Runtime, status: str, code: str | None
) -> None:
    await sent_to_bob(runtime, "V-2")

    async with runtime.db.transaction() as session:
        await receive_receipt(session, Receipt("V-2", status, code))

    assert await all_rows(runtime, OptOut) == []


async def test_an_opt_out_with_no_chat_is_announced_without_one(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)

    await text(runtime, ALICE, P1, "STOP")

    [event] = await all_rows(runtime, EventRecord, EventRecord.name == "participant.opted_out")
    assert event.chat_public_id is None and event.payload["participant_id"] is None
    assert event.payload["proxy_number"] == P1

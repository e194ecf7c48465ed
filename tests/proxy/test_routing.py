"""Inbound routing rules (DESIGN.md rules 3, 4, 6) over a real database."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlmodel import col, select

from smsproxy.carrier import InboundSms
from smsproxy.db import utcnow
from smsproxy.models import (
    AuthorKind,
    Chat,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    EndedNotice,
    EventRecord,
    Message,
    OptOut,
    Participant,
)
from smsproxy.phone import is_alphanumeric_sender, mask
from smsproxy.proxy import chats, queries
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.recording import record_once
from smsproxy.proxy.replies import claim_ended_notice
from smsproxy.proxy.routing import Route, RoutingOptions
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1, P2 = "+447700900901", "+447700900902"
ALICE, BOB, CAROL = "+447700900101", "+447700900102", "+447700900103"
STRANGER = "+447700900999"
ENDED = "This chat has ended."
OPTIONS = RoutingOptions(ended_reply=ENDED)


def sms(sender: str, to: str, text: str = "On my way", message_id: str = "0A0000001") -> InboundSms:
    return InboundSms(sender=sender, to=to, carrier_message_id=message_id, text=text)


async def route(rt: Runtime, inbound: InboundSms, options: RoutingOptions = OPTIONS, **kw: object):
    async with rt.db.transaction() as session:
        return await receive_sms(session, inbound, options, **kw)  # type: ignore[arg-type]


async def rows(rt: Runtime, model: type, *where: object) -> list:
    async with rt.db.read() as session:
        query = select(model).where(*where).order_by(col(model.id))  # type: ignore[attr-defined]
        return list((await session.exec(query)).all())


async def group_on_two_numbers(rt: Runtime) -> chats.ChatView:
    """Alice, Bob and Carol in one chat where Alice and Bob text different numbers:
    each is already busy on the other's number in an earlier chat."""
    await add_numbers(rt, P1, P2)
    await start_chat(rt, (ALICE, "A"), ("+447700900201", "X"))  # Alice busy on P1
    await start_chat(rt, (BOB, "B"), ("+447700900202", "Y"))  # Bob busy on P2
    view = await start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol"))
    proxies = {p.real_number: p.proxy_number for p in view.participants}
    assert proxies[ALICE] != proxies[BOB], "setup: the two must text different numbers"
    return view


async def test_forwards_to_every_other_participant_from_their_own_number(
    runtime: Runtime,
) -> None:
    view = await group_on_two_numbers(runtime)
    people = {p.real_number: p for p in view.participants}
    before = view.chat.last_activity_at

    outcome = await route(runtime, sms(ALICE, people[ALICE].proxy_number, "Running late"))

    assert outcome.route == Route.routed
    deliveries = await rows(runtime, Delivery, Delivery.message_id == outcome.message.id)
    assert sorted(d.to_number for d in deliveries) == [BOB, CAROL]
    for delivery in deliveries:
        recipient = people[delivery.to_number]
        assert delivery.from_number == recipient.proxy_number
        assert delivery.from_number not in (ALICE, BOB, CAROL)
        assert delivery.kind == DeliveryKind.forward
        assert delivery.status == DeliveryStatus.queued
        assert delivery.participant_id == recipient.id
        # Three people on one number each: recipients need to know who wrote.
        assert delivery.body == "Alice: Running late"
    [message] = await rows(runtime, Message, Message.chat_id == view.chat.id)
    assert message.author_kind == AuthorKind.participant
    assert message.participant_id == people[ALICE].id
    assert message.body == "Running late"
    [chat] = await rows(runtime, Chat, Chat.id == view.chat.id)
    assert chat.last_activity_at > before
    [event] = await rows(runtime, EventRecord, EventRecord.name == "message.created")
    assert event.chat_public_id == view.chat.public_id
    assert event.payload["author"] == "Alice"
    assert event.payload["body"] == "Running late"


async def test_two_people_get_the_text_as_written(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    bob = next(p for p in view.participants if p.real_number == BOB)

    outcome = await route(runtime, sms(BOB, bob.proxy_number, "Outside now"))

    [delivery] = outcome.deliveries
    assert (delivery.to_number, delivery.body) == (ALICE, "Outside now")


async def test_only_the_senders_route_counts(runtime: Runtime) -> None:
    """Bob texting Alice's number (not his own route) is not routed into the chat."""
    view = await group_on_two_numbers(runtime)
    alice = next(p for p in view.participants if p.real_number == ALICE)
    bob = next(p for p in view.participants if p.real_number == BOB)
    assert alice.proxy_number != bob.proxy_number

    outcome = await route(runtime, sms(CAROL, "+447700900903"))
    assert outcome.route == Route.not_ours

    # Bob's route on Alice's number belongs to his earlier chat with Y, if any.
    outcome = await route(runtime, sms(BOB, alice.proxy_number, message_id="B2"))
    assert outcome.chat is None or outcome.chat.id != view.chat.id


async def test_a_retried_webhook_is_recorded_and_forwarded_once(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    proxy = view.participants[0].proxy_number

    first = await route(runtime, sms(ALICE, proxy, message_id="RETRY1"))
    again = await route(runtime, sms(ALICE, proxy, message_id="RETRY1"))

    assert (first.route, again.route) == (Route.routed, Route.duplicate)
    assert len(await rows(runtime, Message, Message.carrier_message_id == "RETRY1")) == 1
    assert len(await rows(runtime, Delivery, Delivery.chat_id == view.chat.id)) == 1


async def test_concurrent_retries_record_once(runtime: Runtime) -> None:
    """Two deliveries of one webhook at once: the unique index settles it."""
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    proxy = view.participants[0].proxy_number

    outcomes = await asyncio.gather(
        *(route(runtime, sms(ALICE, proxy, message_id="RACE1")) for _ in range(4))
    )

    assert sorted(o.route for o in outcomes) == [Route.duplicate] * 3 + [Route.routed]
    assert len(await rows(runtime, Message, Message.carrier_message_id == "RACE1")) == 1
    assert len(await rows(runtime, Delivery, Delivery.chat_id == view.chat.id)) == 1


async def test_record_once_survives_losing_the_insert_race(runtime: Runtime) -> None:
    """The lookup missed it, the insert hits the unique index: a duplicate, and the
    transaction is still usable afterwards."""
    async with runtime.db.transaction() as session:
        session.add(Message(author_kind=AuthorKind.unrouted, body="a", carrier_message_id="DUP"))

    async with runtime.db.transaction() as session:
        late = Message(author_kind=AuthorKind.unrouted, body="b", carrier_message_id="DUP")
        assert await record_once(session, late) is False
        other = Message(author_kind=AuthorKind.unrouted, body="c", carrier_message_id="NEW")
        assert await record_once(session, other) is True

    assert [m.body for m in await rows(runtime, Message)] == ["a", "c"]


async def test_opted_out_participants_are_skipped(runtime: Runtime) -> None:
    """The opt-out table is the truth, even for a participant whose flag missed it (a
    chat created while they texted STOP): the route query reads it."""
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    async with runtime.db.transaction() as session:
        session.add(OptOut(number=BOB, source="keyword", keyword="STOP"))

    outcome = await route(runtime, sms(ALICE, view.participants[0].proxy_number))

    [delivery] = outcome.deliveries
    assert delivery.status == DeliveryStatus.suppressed
    assert "opted out" in (delivery.error or "")
    assert delivery.to_number == BOB
    [bob] = await rows(runtime, Participant, Participant.real_number == BOB)
    assert bob.opted_out, "the flag pages show caught up with the opt-out"


async def test_no_active_chat_keeps_the_sms_and_answers_once_a_day(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    now = utcnow()

    first = await route(runtime, sms(STRANGER, P1, "Hello?", "U1"), now=now)
    second = await route(runtime, sms(STRANGER, P1, "Anyone?", "U2"), now=now + timedelta(hours=23))
    third = await route(runtime, sms(STRANGER, P1, "Hello!!", "U3"), now=now + timedelta(hours=25))

    assert [first.route, second.route, third.route] == [Route.unrouted] * 3
    messages = await rows(runtime, Message, col(Message.chat_id).is_(None))
    assert [(m.author_kind, m.sender_number, m.proxy_number) for m in messages] == [
        (AuthorKind.unrouted, STRANGER, P1)
    ] * 3
    replies = await rows(runtime, Delivery, Delivery.kind == DeliveryKind.ended_reply)
    assert [(r.from_number, r.to_number, r.body) for r in replies] == [(P1, STRANGER, ENDED)] * 2
    assert [r.message_id for r in replies] == [messages[0].id, messages[2].id]

    events = await rows(runtime, EventRecord, EventRecord.name == "message.created")
    assert [e.chat_public_id for e in events] == [None, None, None]
    assert events[0].payload["sender"] == mask(STRANGER) != STRANGER
    assert STRANGER not in str(events[0].payload)


async def test_the_daily_reply_is_per_sender_and_number(runtime: Runtime) -> None:
    await add_numbers(runtime, P1, P2)
    await route(runtime, sms(STRANGER, P1, message_id="V1"))
    await route(runtime, sms(STRANGER, P2, message_id="V2"))
    await route(runtime, sms(ALICE, P1, message_id="V3"))

    replies = await rows(runtime, Delivery, Delivery.kind == DeliveryKind.ended_reply)
    assert {(r.from_number, r.to_number) for r in replies} == {
        (P1, STRANGER),
        (P2, STRANGER),
        (P1, ALICE),
    }


async def test_an_empty_ended_reply_sends_nothing(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    outcome = await route(runtime, sms(STRANGER, P1), RoutingOptions(ended_reply=""))
    assert outcome.route == Route.unrouted and outcome.deliveries == []
    assert await rows(runtime, Delivery) == []


async def test_sms_to_a_number_outside_the_pool_is_kept_without_reply(runtime: Runtime) -> None:
    outcome = await route(runtime, sms(STRANGER, "+447700900555"))
    assert outcome.route == Route.not_ours
    assert outcome.message is not None and outcome.message.chat_id is None
    assert await rows(runtime, Delivery) == []


async def test_a_closed_chat_no_longer_routes(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    async with runtime.db.transaction() as session:
        await chats.close_chat(
            session,
            (await queries.get_chat(session, view.chat.public_id)).chat,
            reason="done",
            actor="tests",
            goodbye=False,
            templates=runtime.templates,
        )

    outcome = await route(runtime, sms(ALICE, view.participants[0].proxy_number))

    assert outcome.route == Route.unrouted
    assert [(d.kind, d.to_number) for d in outcome.deliveries] == [
        (DeliveryKind.ended_reply, ALICE)
    ]


async def test_concurrent_unrouted_sms_get_one_reply(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)

    await asyncio.gather(*(route(runtime, sms(STRANGER, P1, message_id=f"C{i}")) for i in range(5)))

    assert len(await rows(runtime, Message)) == 5
    assert len(await rows(runtime, Delivery, Delivery.kind == DeliveryKind.ended_reply)) == 1


async def test_ended_notice_check_and_set(runtime: Runtime) -> None:
    now = utcnow()
    day = timedelta(hours=24)
    results = []
    for offset in (0, 1, 24, 25, 48):
        async with runtime.db.transaction() as session:
            at = now + timedelta(hours=offset)
            results.append(await claim_ended_notice(session, STRANGER, P1, at, day))
    # 0: first; 1: too soon; 24: exactly a day after 0; 25: too soon after 24; 48: a day.
    assert results == [True, False, True, False, True]


@pytest.mark.parametrize("kind", ["routed", "unrouted"])
async def test_numbers_and_text_stay_out_of_logs(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    sender = ALICE if kind == "routed" else STRANGER
    caplog.set_level(logging.DEBUG, logger="smsproxy")

    outcome = await route(runtime, sms(sender, view.participants[0].proxy_number, "secret text"))

    assert outcome.route == Route(kind)
    # Said at DEBUG for every routed SMS (a hot path), at INFO when it is kept unrouted.
    said = [r for r in caplog.records if kind in r.getMessage() and r.name.startswith("smsproxy")]
    assert said, "routing should say what it did"
    expected = logging.DEBUG if kind == "routed" else logging.INFO
    assert any(record.levelno == expected for record in said), said
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for private in (ALICE, BOB, STRANGER, ALICE[1:], STRANGER[1:], "secret text"):
        assert private not in logged


@pytest.mark.parametrize(
    ("sender", "alphanumeric"),
    [
        ("VONAGE", True),
        ("MyBank", True),
        ("Bank 24", True),
        (ALICE, False),
        ("+12025550123", False),
        ("", False),
        (None, False),
    ],
)
def test_alphanumeric_senders_are_told_from_numbers(sender: str | None, alphanumeric: bool) -> None:
    assert is_alphanumeric_sender(sender) is alphanumeric


async def test_an_alphanumeric_sender_is_kept_and_never_answered(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    caplog.set_level(logging.INFO, logger="smsproxy")

    outcome = await route(runtime, sms("MyBank", P1, "Your code is 482913", "A1"))

    assert outcome.route == Route.unrouted and outcome.deliveries == []
    [message] = await rows(runtime, Message, col(Message.chat_id).is_(None))
    assert (message.author_kind, message.sender_number, message.proxy_number) == (
        AuthorKind.unrouted,
        "MyBank",
        P1,
    )
    assert await rows(runtime, Delivery) == []  # no ended reply: nobody can receive it
    async with runtime.db.read() as session:
        assert (await session.exec(select(EndedNotice))).all() == []
    [event] = await rows(runtime, EventRecord, EventRecord.name == "message.created")
    assert event.payload["sender"] == "MyBank"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "alphanumeric sender" in logged and "A1" in logged
    assert "482913" not in logged

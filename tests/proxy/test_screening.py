"""The contact guard in routing (CONTACT_POLICY): what is forwarded, what staff see."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy.carrier import InboundSms
from smsproxy.models import Delivery, EventRecord, Message, Screening
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.options import Outcome, Route, RoutingOptions
from smsproxy.proxy.screening import FORWARD_CAP, Policy, screen
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB, CAROL = "+447700900101", "+447700900102", "+447700900103"
LEAK = "Text me on 07911 123456 or jo.bloggs@gmail.com instead"
SPOKEN = "call me, oh seven nine one one, one two three, four five six"


def options(policy: Policy) -> RoutingOptions:
    return RoutingOptions(contact_policy=policy)


async def route(rt: Runtime, sender: str, text: str, policy: Policy, mid: str = "M1") -> Outcome:
    async with rt.db.transaction() as session:
        inbound = InboundSms(sender=sender, to=P1, carrier_message_id=mid, text=text)
        return await receive_sms(session, inbound, options(policy))


async def message_of(rt: Runtime, outcome: Outcome) -> Message:
    assert outcome.message is not None
    async with rt.db.read() as session:
        return (await session.exec(select(Message).where(Message.id == outcome.message.id))).one()


async def test_redact_forwards_the_text_without_the_contact_details(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))

    outcome = await route(runtime, ALICE, LEAK, "redact")

    assert outcome.route == Route.routed
    [delivery] = outcome.deliveries
    assert delivery.body == "Text me on [number removed] or [email removed] instead"
    message = await message_of(runtime, outcome)
    assert message.body == LEAK, "staff keep the original"
    assert message.screening == Screening.redacted
    assert message.screening_note == "a phone number and an e-mail address"
    assert "07911" not in (message.screening_note or "")


async def test_disguised_numbers_are_caught_too(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))

    outcome = await route(runtime, ALICE, SPOKEN, "redact")

    [delivery] = outcome.deliveries
    assert "one one" not in delivery.body and "[number removed]" in delivery.body
    assert "written in words" in ((await message_of(runtime, outcome)).screening_note or "")


async def test_innocent_texts_pass_untouched(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    text = "Flight BA2490 lands 14:35 on 12/03/2025, gate 22, fare £45.50, ref XK7Q9P"

    outcome = await route(runtime, ALICE, text, "redact")

    assert [d.body for d in outcome.deliveries] == [text]
    assert (await message_of(runtime, outcome)).screening is None


async def test_the_participants_regions_decide_how_numbers_are_read(runtime: Runtime) -> None:
    """A US number written nationally is a number in a chat with a US participant."""
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), ("+12125550123", "Driver"))

    outcome = await route(runtime, ALICE, "my cell is (415) 555-0134", "redact")

    [delivery] = outcome.deliveries
    assert delivery.body == "my cell is [number removed]"


async def test_off_forwards_as_written(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))

    outcome = await route(runtime, ALICE, LEAK, "off")

    assert [d.body for d in outcome.deliveries] == [LEAK]
    assert (await message_of(runtime, outcome)).screening is None


async def test_hold_forwards_nothing_and_says_so_live(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))

    outcome = await route(runtime, ALICE, LEAK, "hold")

    assert outcome.route == Route.held and outcome.deliveries == []
    async with runtime.db.read() as session:
        assert (await session.exec(select(Delivery))).all() == []
        names = (await session.exec(select(EventRecord.name).order_by(col(EventRecord.id)))).all()
        held = (
            await session.exec(select(EventRecord).where(EventRecord.name == "message.held"))
        ).one()
    assert names[-2:] == ["message.created", "message.held"]
    assert held.chat_public_id == view.chat.public_id
    assert held.payload["found"] == "a phone number and an e-mail address"
    assert "07911" not in str(held.payload)
    message = await message_of(runtime, outcome)
    assert (message.body, message.screening) == (LEAK, Screening.held)


async def test_hold_lets_clean_texts_through(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))

    outcome = await route(runtime, ALICE, "Outside now", "hold")

    assert outcome.route == Route.routed
    assert [d.body for d in outcome.deliveries] == ["Outside now"]


async def test_a_name_with_a_number_is_redacted_in_group_prefixes(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Jo 07911 123456"), (BOB, "Bob"), (CAROL, "Carol"))

    outcome = await route(runtime, ALICE, "Hi all", "redact")

    assert {d.body for d in outcome.deliveries} == {"Jo [number removed]: Hi all"}


async def test_a_long_text_is_kept_whole_and_forwarded_cut(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    text = "a" * 900_000

    outcome = await route(runtime, ALICE, text, "redact")

    [delivery] = outcome.deliveries
    assert len(delivery.body) == FORWARD_CAP and delivery.body.endswith("…")
    assert (await message_of(runtime, outcome)).body == text


async def test_staff_messages_are_not_screened(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))

    async with runtime.db.transaction() as session:
        sent = await send_staff_message(
            session, view.chat.public_id, LEAK, staff_user_id=None, actor="tests"
        )

    assert {d.body for d in sent.deliveries} == {LEAK}
    assert sent.message.screening is None


@pytest.mark.parametrize("policy", ["redact", "hold"])
def test_only_the_forwardable_part_is_read(policy: Policy) -> None:
    """A number past the cap is never forwarded, so it is no reason to hold a text."""
    text = "x" * FORWARD_CAP + " call 07911 123456"
    assert screen(text, ("GB",), policy).action is None

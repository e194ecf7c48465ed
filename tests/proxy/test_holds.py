"""Held texts: staff release (forwarded as written) or reject them, once, audited."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy.carrier import InboundSms
from smsproxy.errors import Conflict, NotFound
from smsproxy.models import AuditEvent, Delivery, EventRecord, Message, Screening
from smsproxy.proxy.chats import Templates, close_chat
from smsproxy.proxy.holds import reject_held, release_held
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.options import RoutingOptions
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB, CAROL = "+447700900101", "+447700900102", "+447700900103"
LEAK = "Ring me on 07911 123456 about the booking"
HOLD = RoutingOptions(contact_policy="hold")


async def held_message(rt: Runtime, *people: tuple[str, str]) -> tuple[ChatView, Message]:
    await add_numbers(rt, P1)
    view = await start_chat(rt, *(people or ((ALICE, "Rider"), (BOB, "Driver"))))
    async with rt.db.transaction() as session:
        inbound = InboundSms(sender=ALICE, to=P1, carrier_message_id="H1", text=LEAK)
        outcome = await receive_sms(session, inbound, HOLD)
    assert outcome.message is not None and outcome.message.screening == Screening.held
    return view, outcome.message


async def release(rt: Runtime, view: ChatView, message: Message, actor: str = "staff:amy"):
    async with rt.db.transaction() as session:
        return await release_held(
            session, view.chat.public_id, message.public_id, actor=actor, policy="hold"
        )


async def reject(rt: Runtime, view: ChatView, message: Message, actor: str = "staff:amy"):
    async with rt.db.transaction() as session:
        return await reject_held(session, view.chat.public_id, message.public_id, actor=actor)


async def test_release_forwards_the_text_as_written(runtime: Runtime) -> None:
    view, message = await held_message(runtime)

    decision = await release(runtime, view, message)

    [delivery] = decision.deliveries
    assert (delivery.to_number, delivery.body) == (BOB, LEAK)
    assert decision.message.screening == Screening.released
    async with runtime.db.read() as session:
        [audit] = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "message.release"))
        ).all()
        event = (
            await session.exec(select(EventRecord).where(EventRecord.name == "message.released"))
        ).one()
    assert (audit.actor, audit.target) == ("staff:amy", message.public_id)
    assert audit.detail["chat"] == view.chat.public_id and "07911" not in str(audit.detail)
    assert event.payload == {
        "id": message.public_id,
        "chat_id": view.chat.public_id,
        "released_by": "staff:amy",
        "recipients": 1,
        "found": "a phone number",
    }


async def test_a_released_group_text_says_who_wrote_it(runtime: Runtime) -> None:
    view, message = await held_message(runtime, (ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol"))

    decision = await release(runtime, view, message)

    assert sorted(d.to_number for d in decision.deliveries) == [BOB, CAROL]
    assert {d.body for d in decision.deliveries} == {f"Alice: {LEAK}"}


async def test_reject_never_forwards(runtime: Runtime) -> None:
    view, message = await held_message(runtime)

    decision = await reject(runtime, view, message, actor="api_key:spx_abc")

    assert decision.message.screening == Screening.rejected
    async with runtime.db.read() as session:
        assert (await session.exec(select(Delivery))).all() == []
        [audit] = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "message.reject"))
        ).all()
        names = (await session.exec(select(EventRecord.name).order_by(col(EventRecord.id)))).all()
    assert audit.actor == "api_key:spx_abc"
    assert names[-1] == "message.rejected"


async def test_a_decision_is_made_once(runtime: Runtime) -> None:
    view, message = await held_message(runtime)
    await release(runtime, view, message)

    with pytest.raises(Conflict, match="already released"):
        await release(runtime, view, message)
    with pytest.raises(Conflict, match="already released"):
        await reject(runtime, view, message)
    async with runtime.db.read() as session:
        assert len((await session.exec(select(Delivery))).all()) == 1


async def test_only_held_messages_can_be_decided(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    async with runtime.db.transaction() as session:
        inbound = InboundSms(sender=ALICE, to=P1, carrier_message_id="C1", text="Outside")
        outcome = await receive_sms(session, inbound, HOLD)
    assert outcome.message is not None

    with pytest.raises(Conflict, match="never held"):
        await release(runtime, view, outcome.message)


async def test_unknown_messages_and_chats_are_not_found(runtime: Runtime) -> None:
    view, message = await held_message(runtime)
    async with runtime.db.transaction() as session:
        with pytest.raises(NotFound, match="no message"):
            await release_held(
                session, view.chat.public_id, "msg_nope", actor="staff:amy", policy="hold"
            )
        with pytest.raises(NotFound):
            await reject_held(session, "ch_nope", message.public_id, actor="staff:amy")


async def test_a_closed_chats_held_text_can_only_be_rejected(runtime: Runtime) -> None:
    view, message = await held_message(runtime)
    async with runtime.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="t", goodbye=False, templates=Templates()
        )

    with pytest.raises(Conflict, match="closed"):
        await release(runtime, view, message)
    assert (await reject(runtime, view, message)).message.screening == Screening.rejected

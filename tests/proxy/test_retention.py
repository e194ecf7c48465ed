"""RETENTION_DAYS: the texts of chats closed long enough ago are erased, with every copy
of them; who, when and what became of each SMS stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from smsproxy.carrier import InboundSms
from smsproxy.db import utcnow
from smsproxy.models import (
    ApiKey,
    Chat,
    Delivery,
    DeliveryStatus,
    EventRecord,
    IdempotencyRecord,
    InboundPart,
    Message,
    SandboxSms,
    Screening,
)
from smsproxy.proxy.chats import close_chat
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.options import RoutingOptions
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.proxy.retention import erase_old_texts
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, create_api_key, database_text, start_chat

P1, P2 = "+447700900901", "+447700900902"
ALICE, BOB, CAROL, DAN = "+447700900101", "+447700900102", "+447700900103", "+447700900104"
STRANGER = "+447700900999"
LONG_AGO = timedelta(days=40)
_ids = iter(range(1, 1000))


async def text(rt: Runtime, sender: str, to: str, body: str, **options: Any) -> None:
    async with rt.db.transaction() as session:
        inbound = InboundSms(sender=sender, to=to, carrier_message_id=f"R{next(_ids)}", text=body)
        await receive_sms(session, inbound, RoutingOptions(ended_reply="Ended.", **options))


async def close(rt: Runtime, view: ChatView, ago: timedelta) -> None:
    async with rt.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="t", goodbye=True, templates=rt.templates
        )
        await session.exec(
            update(Chat).where(col(Chat.id) == chat.id).values(closed_at=utcnow() - ago)
        )


async def backdate(rt: Runtime) -> None:
    """Everything not tied to a chat happened long ago."""
    then = utcnow() - LONG_AGO
    async with rt.db.transaction() as session:
        for model, column in (
            (Message, Message.created_at),
            (SandboxSms, SandboxSms.created_at),
            (InboundPart, InboundPart.received_at),
            (IdempotencyRecord, IdempotencyRecord.created_at),
            (EventRecord, EventRecord.created_at),
        ):
            await session.exec(update(model).values({column: then}))


async def world(rt: Runtime) -> tuple[ChatView, ChatView, ChatView]:
    """A chat closed long ago, one closed yesterday, one still open, and strays."""
    await add_numbers(rt, P1, P2)
    old = await start_chat(rt, (ALICE, "Alice"), (BOB, "Bob"), intro=True)
    await text(rt, ALICE, P1, "old secret: mail jo.bloggs@gmail.com")
    await text(rt, BOB, P1, "old held: ring 07911 123456", contact_policy="hold")
    async with rt.db.transaction() as session:
        await send_staff_message(
            session, old.chat.public_id, "old staff words", staff_user_id=None, actor="t"
        )
    await close(rt, old, LONG_AGO)
    recent = await start_chat(rt, (CAROL, "Carol"), (DAN, "Dan"))
    await text(rt, CAROL, P1, "recent words")
    await close(rt, recent, timedelta(days=1))
    open_chat = await start_chat(rt, (ALICE, "Alice"), (DAN, "Dan"))
    alice = next(p for p in open_chat.participants if p.real_number == ALICE)
    await text_from_handset(rt.db, rt.routing, ALICE, alice.proxy_number, "open words")
    await text(rt, STRANGER, P2, "stray words")
    part = InboundSms(
        STRANGER, P2, "PART-1", "part words", concat_ref="7", concat_total=2, concat_part=1
    )
    async with rt.db.transaction() as session:
        await receive_sms(session, part, RoutingOptions())
    await create_api_key(rt)
    async with rt.db.transaction() as session:
        api_key = (await session.exec(select(ApiKey))).one()
        assert api_key.id is not None
        replay = {"body": "replayed words"}
        session.add(
            IdempotencyRecord(
                api_key_id=api_key.id, key="k1", request_hash="h", status_code=201, response=replay
            )
        )
    await backdate(rt)
    return old, recent, open_chat


async def test_old_texts_go_everywhere_and_the_rest_stays(runtime: Runtime) -> None:
    await world(runtime)

    erased = await erase_old_texts(runtime.db, days=30)

    assert (erased.chats, erased.unrouted) == (1, 1)
    everything = await database_text(runtime)
    for gone in (
        "old secret",
        "jo.bloggs",
        "07911 123456",
        "old staff words",
        "Hello ",
        "stray words",
        "part words",
        "replayed words",
    ):
        assert gone not in everything, f"{gone!r} survived"
    for kept in ("recent words", "open words"):
        assert kept in everything, f"{kept!r} was erased too early"


async def test_metadata_stays(runtime: Runtime) -> None:
    old, _, _ = await world(runtime)
    async with runtime.db.read() as session:
        before = (
            await session.exec(
                select(Message).where(Message.chat_id == old.chat.id).order_by(col(Message.id))
            )
        ).all()
        statuses = (
            await session.exec(
                select(Delivery.id, Delivery.status, Delivery.to_number).order_by(col(Delivery.id))
            )
        ).all()

    await erase_old_texts(runtime.db, days=30)

    async with runtime.db.read() as session:
        after = (
            await session.exec(
                select(Message).where(Message.chat_id == old.chat.id).order_by(col(Message.id))
            )
        ).all()
        assert (
            await session.exec(
                select(Delivery.id, Delivery.status, Delivery.to_number).order_by(col(Delivery.id))
            )
        ).all() == statuses
        chat = (await session.exec(select(Chat).where(Chat.id == old.chat.id))).one()
        events = (
            await session.exec(
                select(EventRecord).where(EventRecord.chat_public_id == old.chat.public_id)
            )
        ).all()
    assert [(m.author_kind, m.sender_number, m.screening, m.created_at) for m in after] == [
        (m.author_kind, m.sender_number, m.screening, m.created_at) for m in before
    ]
    assert all(m.body == "" and m.erased_at is not None for m in after)
    assert Screening.held in [m.screening for m in after]
    assert chat.bodies_erased_at is not None
    created = [e for e in events if e.name == "message.created"]
    assert created and all(e.payload["body"] == "" and e.payload["id"] for e in created)
    assert any(d[1] == DeliveryStatus.queued for d in statuses)


async def test_a_second_sweep_has_nothing_left_to_do(runtime: Runtime) -> None:
    await world(runtime)
    await erase_old_texts(runtime.db, days=30)

    again = await erase_old_texts(runtime.db, days=30)

    assert again.total == 0


async def test_nothing_is_old_enough_under_a_longer_retention(runtime: Runtime) -> None:
    await world(runtime)

    erased = await erase_old_texts(runtime.db, days=60)

    assert erased.total == 0
    assert "old secret" in await database_text(runtime)

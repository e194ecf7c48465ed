"""The sandbox carrier end to end: simulated handsets text each other through the proxy."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select

from smsproxy.carrier.handsets import find_handsets
from smsproxy.carrier.sandbox import SandboxCarrier
from smsproxy.config import Settings
from smsproxy.models import Delivery, DeliveryKind, DeliveryStatus, Message
from smsproxy.proxy.routing import Route
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, delivery_statuses, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
STRANGER = "+447700900999"


def carrier_of(rt: Runtime) -> SandboxCarrier:
    assert isinstance(rt.carrier, SandboxCarrier)
    return rt.carrier


async def deliveries(rt: Runtime) -> list[Delivery]:
    async with rt.db.read() as session:
        return list((await session.exec(select(Delivery).order_by(col(Delivery.id)))).all())


async def test_a_round_trip_between_two_handsets(runtime: Runtime) -> None:
    carrier_of(runtime).receipt_delay = 0
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    proxy = {p.real_number: p.proxy_number for p in view.participants}

    outcome = await text_from_handset(
        runtime.db, runtime.routing, ALICE, proxy[ALICE], "Are you close?"
    )
    assert outcome.route == Route.routed
    await runtime.sender.drain(timeout=5)
    await carrier_of(runtime).settle()
    reply = await text_from_handset(
        runtime.db, runtime.routing, "00447700900102", proxy[BOB], "Two minutes"
    )
    assert reply.route == Route.routed
    await runtime.sender.drain(timeout=5)
    await carrier_of(runtime).settle()

    first, second = await deliveries(runtime)
    assert (first.to_number, first.from_number, first.body) == (BOB, proxy[BOB], "Are you close?")
    assert (second.to_number, second.from_number, second.body) == (
        ALICE,
        proxy[ALICE],
        "Two minutes",
    )
    for delivery in (first, second):
        assert delivery.status == DeliveryStatus.delivered
        # The dashboard's ticks advance in order: queued, sent, delivered.
        assert await delivery_statuses(runtime, delivery) == [
            "queued",
            "sending",
            "sent",
            "delivered",
        ]

    async with runtime.db.read() as session:
        handsets = {h.number: h for h in (await find_handsets(session)).handsets}
    assert set(handsets) == {ALICE, BOB}
    alice, bob = handsets[ALICE], handsets[BOB]
    assert [(s.direction, s.proxy_number, s.body) for s in alice.sms] == [
        ("out", proxy[ALICE], "Are you close?"),
        ("in", proxy[ALICE], "Two minutes"),
    ]
    assert [(s.direction, s.body) for s in bob.sms] == [
        ("in", "Are you close?"),
        ("out", "Two minutes"),
    ]
    assert [(r.proxy_number, r.chat_id) for r in bob.routes] == [(proxy[BOB], view.chat.public_id)]


async def test_a_stranger_gets_the_ended_reply_on_their_handset(runtime: Runtime) -> None:
    carrier_of(runtime).receipt_delay = 0
    await add_numbers(runtime, P1)

    outcome = await text_from_handset(runtime.db, runtime.routing, STRANGER, P1, "Hello?")
    await runtime.sender.drain(timeout=5)

    assert outcome.route == Route.unrouted
    async with runtime.db.read() as session:
        [handset] = (await find_handsets(session)).handsets
        [message] = (await session.exec(select(Message))).all()
    assert message.chat_id is None and message.body == "Hello?"
    assert handset.number == STRANGER and handset.routes == []
    assert [(s.direction, s.body) for s in handset.sms] == [
        ("out", "Hello?"),
        ("in", runtime.settings.ended_reply),
    ]
    [delivery] = await deliveries(runtime)
    assert delivery.kind == DeliveryKind.ended_reply


async def test_receipts_follow_the_background_sender(settings: Settings) -> None:
    """With the real background loops: the receipt waits for the sender's record."""
    rt = Runtime(settings, background=True)
    await rt.start()
    try:
        await add_numbers(rt, P1)
        view = await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        await text_from_handset(rt.db, rt.routing, ALICE, view.participants[0].proxy_number, "Hi")
        for _ in range(200):
            found = await deliveries(rt)
            if found and found[0].status == DeliveryStatus.delivered:
                break
            await asyncio.sleep(0.05)
        [delivery] = await deliveries(rt)
        assert delivery.status == DeliveryStatus.delivered
        assert await delivery_statuses(rt, delivery) == ["queued", "sending", "sent", "delivered"]
    finally:
        await rt.stop()

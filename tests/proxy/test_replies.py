"""Automatic replies are bounded overall, not only per sender: forged texts from many
numbers cannot make the service send more than AUTO_REPLIES_PER_HOUR."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from smsproxy.carrier import InboundSms
from smsproxy.db import utcnow
from smsproxy.models import Delivery, DeliveryKind, DeliveryStatus, Message
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.options import RoutingOptions
from smsproxy.proxy.replies import OVER_BUDGET
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers

P1 = "+447700900901"
OPTIONS = RoutingOptions(ended_reply="Ended.", help_reply="Help.", auto_replies_per_hour=3)


def stranger(n: int) -> str:
    return f"+4477009005{n:02d}"


async def text(rt: Runtime, sender: str, body: str, mid: str, minutes: float = 0) -> None:
    async with rt.db.transaction() as session:
        inbound = InboundSms(sender=sender, to=P1, carrier_message_id=mid, text=body)
        await receive_sms(session, inbound, OPTIONS, now=utcnow() + timedelta(minutes=minutes))


async def replies(rt: Runtime) -> list[Delivery]:
    async with rt.db.read() as session:
        return list((await session.exec(select(Delivery).order_by(Delivery.id))).all())


async def test_replies_past_the_hourly_bound_are_recorded_not_sent(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)

    for n in range(5):
        await text(runtime, stranger(n), "Hello?", f"F{n}")

    sent = await replies(runtime)
    assert [d.status for d in sent] == [DeliveryStatus.queued] * 3 + [DeliveryStatus.suppressed] * 2
    assert all(d.kind == DeliveryKind.ended_reply for d in sent)
    assert sent[-1].error == OVER_BUDGET
    async with runtime.db.read() as session:
        assert len((await session.exec(select(Message))).all()) == 5, "every text is kept"


async def test_keyword_answers_share_the_bound(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    for n in range(3):
        await text(runtime, stranger(n), "Hello?", f"F{n}")

    await text(runtime, stranger(9), "HELP", "H1")

    help_reply = (await replies(runtime))[-1]
    assert (help_reply.kind, help_reply.status) == ("keyword_reply", DeliveryStatus.suppressed)


async def test_the_bound_is_per_hour(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    for n in range(3):
        await text(runtime, stranger(n), "Hello?", f"F{n}")

    await text(runtime, stranger(5), "Hello?", "LATER", minutes=61)

    assert (await replies(runtime))[-1].status == DeliveryStatus.queued


async def test_zero_sends_no_automatic_reply(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    async with runtime.db.transaction() as session:
        inbound = InboundSms(sender=stranger(1), to=P1, carrier_message_id="Z", text="Hi")
        options = RoutingOptions(ended_reply="Ended.", auto_replies_per_hour=0)
        await receive_sms(session, inbound, options)

    assert [d.status for d in await replies(runtime)] == [DeliveryStatus.suppressed]

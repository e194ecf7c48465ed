"""How many SQL statements an inbound SMS costs: a budget that only goes down.

Every webhook holds the database's write lock (SQLite) or a connection (PostgreSQL)
for as long as its statements take, so a round trip added to the inbound path is
throughput lost for everyone. Counting statements is deterministic where timing is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from quart import Quart
from sqlalchemy import event
from sqlmodel import col, select

from smsproxy.models import Delivery, DeliveryStatus, Message, OptOut
from smsproxy.runtime import Runtime
from tests.helpers import add_endpoint, add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB, CAROL = "+447700900101", "+447700900102", "+447700900103"

# Statements for one routed SMS in a two-person chat: (SQLite's BEGIN IMMEDIATE), the
# route with its chat and participants, the message, the delivery, the chat's activity
# (written once per transaction, just before commit), and its two live events in one
# statement (SQLite first reads the last event id; PostgreSQL first takes the advisory
# lock that orders event ids).
ROUTED_BUDGET = {"sqlite": 7, "postgresql": 6}
# A third person adds one delivery (PostgreSQL inserts both in one statement).
GROUP_OF_THREE_BUDGET = {"sqlite": 8, "postgresql": 6}
# SMS that arrive together share a transaction (a group commit): each costs its route,
# its message and its delivery; the transaction's fixed part (BEGIN, the chat's
# activity, the events) is paid once.
PER_SMS_IN_A_BATCH = 3
BATCH_OVERHEAD = {"sqlite": 4, "postgresql": 3}


@contextmanager
def counted(rt: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = rt.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def post_inbound(app: Quart, message_id: str, text: str = "Here") -> None:
    fields = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": message_id, "text": text}
    response = await app.test_client().post("/webhooks/inbound-sms", form=fields)
    assert response.status_code == 204


async def deliveries_of(rt: Runtime, message_id: str) -> list[Delivery]:
    async with rt.db.read() as session:
        query = (
            select(Delivery)
            .join(Message, col(Message.id) == Delivery.message_id)
            .where(Message.carrier_message_id == message_id)
        )
        return list((await session.exec(query)).all())


async def test_a_routed_sms_stays_within_its_statement_budget(
    app: Quart, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"))
    await post_inbound(app, "WARM")  # the first request also loads what is cached

    with counted(app_runtime) as statements:
        await post_inbound(app, "COUNTED")

    assert [d.to_number for d in await deliveries_of(app_runtime, "COUNTED")] == [BOB]
    budget = ROUTED_BUDGET[app_runtime.db.dialect]
    assert 0 < len(statements) <= budget, "\n".join(statements)


async def test_screening_and_opt_outs_cost_no_statement(app: Quart, app_runtime: Runtime) -> None:
    """The contact guard reads the text in memory, and the route query itself says who
    opted out: a redacted SMS to an opted-out recipient costs what any SMS costs."""
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"))
    async with app_runtime.db.transaction() as session:
        session.add(OptOut(number=BOB, source="keyword", keyword="STOP"))
    await post_inbound(app, "WARM")
    await post_inbound(app, "WARM-2")  # the route query set Bob's flag: now in step

    with counted(app_runtime) as statements:
        await post_inbound(app, "COUNTED", "ring me on 07911 123456")

    [delivery] = await deliveries_of(app_runtime, "COUNTED")
    assert delivery.body == "ring me on [number removed]"
    assert delivery.status == DeliveryStatus.suppressed
    budget = ROUTED_BUDGET[app_runtime.db.dialect]
    assert 0 < len(statements) <= budget, "\n".join(statements)


async def test_integration_events_cost_one_statement_for_every_endpoint(
    app: Quart, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"))
    await add_endpoint(app_runtime, "https://a.example/hook")
    await add_endpoint(app_runtime, "https://b.example/hook", ["message.received"])
    await post_inbound(app, "WARM")  # the endpoint list is read once, then kept

    with counted(app_runtime) as statements:
        await post_inbound(app, "COUNTED")

    # message.received for both endpoints and delivery.updated for one: one INSERT.
    inserts = [s for s in statements if s.startswith("INSERT INTO webhookdelivery")]
    assert len(inserts) == 1
    budget = ROUTED_BUDGET[app_runtime.db.dialect] + 1
    assert 0 < len(statements) <= budget, "\n".join(statements)


async def test_a_group_sms_writes_its_deliveries_together(app: Quart, app_runtime: Runtime) -> None:
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"), (CAROL, "Helper"))
    await post_inbound(app, "WARM")

    with counted(app_runtime) as statements:
        await post_inbound(app, "COUNTED")

    recipients = sorted(d.to_number for d in await deliveries_of(app_runtime, "COUNTED"))
    assert recipients == [BOB, CAROL]
    budget = GROUP_OF_THREE_BUDGET[app_runtime.db.dialect]
    assert 0 < len(statements) <= budget, "\n".join(statements)


async def test_a_retry_costs_no_more_than_the_sms_did(app: Quart, app_runtime: Runtime) -> None:
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"))
    await post_inbound(app, "ONCE")

    with counted(app_runtime) as statements:
        await post_inbound(app, "ONCE")

    assert len(await deliveries_of(app_runtime, "ONCE")) == 1
    # The route lookup and the insert that the unique index turns into a no-op.
    budget = {"sqlite": 3, "postgresql": 2}[app_runtime.db.dialect]
    assert 0 < len(statements) <= budget, "\n".join(statements)


async def test_sms_arriving_together_pay_the_transaction_once(
    app: Quart, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"))
    await post_inbound(app, "WARM")
    started, release = asyncio.Event(), asyncio.Event()

    async def busy(session: object) -> None:
        started.set()
        await release.wait()

    # While the writer is busy, ten webhooks queue up: they go in the next batch together.
    holding = asyncio.create_task(app_runtime.writer.run(busy))  # type: ignore[arg-type]
    await started.wait()
    with counted(app_runtime) as statements:
        posts = [asyncio.create_task(post_inbound(app, f"BATCH{n}")) for n in range(10)]
        while app_runtime.writer.waiting < 10:
            await asyncio.sleep(0.01)
        release.set()
        await holding
        await asyncio.gather(*posts)

    budget = PER_SMS_IN_A_BATCH * 10 + BATCH_OVERHEAD[app_runtime.db.dialect]
    assert 0 < len(statements) <= budget, "\n".join(statements)

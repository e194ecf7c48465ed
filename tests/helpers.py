"""Test helpers shared by the suites: numbers, keys, chats."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from smsproxy import events
from smsproxy.integrations import endpoints
from smsproxy.integrations.endpoints import EndpointSpec
from smsproxy.models import Delivery, EventRecord, WebhookEndpoint
from smsproxy.proxy import chats, keys, pool
from smsproxy.proxy.chats import ChatSpec, NewParticipant, Templates
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime


async def delivery_statuses(rt: Runtime, delivery: Delivery) -> list[str]:
    """Every status live pages were told for one delivery, in order."""
    async with rt.db.read() as session:
        records = (
            await session.exec(
                select(EventRecord)
                .where(EventRecord.name == events.DeliveryUpdated.name)
                .order_by(col(EventRecord.id))
            )
        ).all()
    return [r.payload["status"] for r in records if r.payload["delivery_id"] == delivery.public_id]


async def add_numbers(rt: Runtime, *numbers: str) -> None:
    async with rt.db.transaction() as session:
        for number in numbers:
            await pool.add_number(session, number)


async def create_api_key(rt: Runtime, name: str = "tests") -> str:
    async with rt.db.transaction() as session:
        _, key = await keys.create_key(session, name, actor="tests")
    return key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def two_people(a: str = "+447700900001", b: str = "+447700900002") -> dict[str, Any]:
    return {"participants": [{"number": a, "name": "Rider"}, {"number": b, "name": "Driver"}]}


async def start_chat(rt: Runtime, *people: tuple[str, str], intro: bool = False) -> ChatView:
    """A chat between (number, name) pairs, through the real allocation rules."""
    spec = ChatSpec([NewParticipant(number, name) for number, name in people], intro=intro)
    async with rt.db.transaction() as session:
        return await chats.create_chat(
            session, spec, templates=Templates(intro="Hello {name}"), actor="tests"
        )


async def database_text(rt: Runtime) -> str:
    """Every value of every row of every table, as one text: to show that something is
    nowhere in the database."""
    from sqlalchemy import select as select_table
    from sqlmodel import SQLModel

    lines = []
    async with rt.db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await connection.execute(select_table(table))).all():
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


async def add_endpoint(
    rt: Runtime, url: str, event_types: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """A webhook endpoint (subscribed to everything unless told) and its secret."""
    spec = EndpointSpec(url=url, events=event_types or ["*"])
    async with rt.db.transaction() as session:
        return await endpoints.create_endpoint(session, spec, box=rt.webhooks.box, actor="tests")

"""Expiry: the sweeper closes chats past their absolute expiry or idle TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, func, select

from smsproxy.config import Settings
from smsproxy.db import utcnow
from smsproxy.models import AuditEvent, Chat, Delivery, DeliveryKind, Participant
from smsproxy.proxy import queries
from smsproxy.proxy.chats import ChatSpec, NewParticipant, create_chat, touch
from smsproxy.proxy.lifecycle import close_expired
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import add_numbers

PROXY = "+447700900901"


def person(i: int) -> str:
    return f"+4477009001{i:02d}"


async def new_chat(
    rt: Runtime, i: int, *, ttl: int | None = None, expires_at: datetime | None = None
) -> ChatView:
    spec = ChatSpec(
        [NewParticipant(person(2 * i)), NewParticipant(person(2 * i + 1))],
        ttl_seconds=ttl,
        expires_at=expires_at,
        intro=False,
    )
    async with rt.db.transaction() as session:
        return await create_chat(session, spec, templates=rt.templates, actor="tests")


async def state(rt: Runtime, view: ChatView) -> tuple[str, str | None, list[bool]]:
    async with rt.db.read() as session:
        fresh = await queries.get_chat(session, view.chat.public_id)
    return fresh.chat.status, fresh.chat.close_reason, [p.active for p in fresh.participants]


async def goodbyes(rt: Runtime) -> list[Delivery]:
    async with rt.db.read() as session:
        query = select(Delivery).where(Delivery.kind == DeliveryKind.goodbye)
        return list((await session.exec(query.order_by(col(Delivery.id)))).all())


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    await add_numbers(runtime, PROXY)
    return runtime


async def test_absolute_expiry_closes_the_chat_and_says_goodbye(rt: Runtime) -> None:
    start = utcnow()
    view = await new_chat(rt, 0, expires_at=start + timedelta(hours=1))
    forever = await new_chat(rt, 1)
    assert await close_expired(rt.db, rt.templates, now=start + timedelta(minutes=59)) == 0
    assert await state(rt, view) == ("active", None, [True, True])

    assert await close_expired(rt.db, rt.templates, now=start + timedelta(hours=1, seconds=1)) == 1
    assert await state(rt, view) == ("closed", "expired", [False, False])
    assert await state(rt, forever) == ("active", None, [True, True])
    sent = await goodbyes(rt)
    assert [(d.to_number, d.from_number, d.body) for d in sent] == [
        (person(0), PROXY, rt.settings.goodbye_template),
        (person(1), PROXY, rt.settings.goodbye_template),
    ]
    assert await close_expired(rt.db, rt.templates, now=start + timedelta(days=30)) == 0


async def test_idle_ttl_closes_after_the_last_activity(rt: Runtime) -> None:
    view = await new_chat(rt, 0, ttl=600)
    created = view.chat.last_activity_at
    assert await close_expired(rt.db, rt.templates, now=created + timedelta(seconds=599)) == 0
    assert await close_expired(rt.db, rt.templates, now=created + timedelta(seconds=601)) == 1
    assert await state(rt, view) == ("closed", "expired", [False, False])


async def test_activity_moves_the_idle_expiry(rt: Runtime) -> None:
    view = await new_chat(rt, 0, ttl=600)
    created = view.chat.last_activity_at
    later = created + timedelta(seconds=500)
    async with rt.db.transaction() as session:
        chat = await session.get(Chat, view.chat.id)
        assert chat is not None
        touch(chat, later)
        session.add(chat)
    assert await close_expired(rt.db, rt.templates, now=created + timedelta(seconds=700)) == 0
    assert await state(rt, view) == ("active", None, [True, True])
    assert await close_expired(rt.db, rt.templates, now=later + timedelta(seconds=601)) == 1


async def test_expiry_frees_the_routes_for_new_chats(rt: Runtime) -> None:
    start = utcnow()
    await new_chat(rt, 0, expires_at=start + timedelta(minutes=5))
    spec = ChatSpec([NewParticipant(person(0)), NewParticipant(person(9))], intro=False)
    with pytest.raises(Exception, match="No proxy number is free"):
        async with rt.db.transaction() as session:
            await create_chat(session, spec, templates=rt.templates, actor="tests")
    await close_expired(rt.db, rt.templates, now=start + timedelta(minutes=6))
    async with rt.db.transaction() as session:
        again = await create_chat(session, spec, templates=rt.templates, actor="tests")
    assert again.participants[0].proxy_number == PROXY


@pytest.fixture
async def quiet_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    value = Runtime(make_settings(settings.database_url, goodbye_template=""), background=False)
    await value.start()
    await add_numbers(value, PROXY)
    yield value
    await value.stop()


async def test_no_goodbye_without_a_template(quiet_runtime: Runtime) -> None:
    view = await new_chat(quiet_runtime, 0, ttl=60)
    assert (
        await close_expired(
            quiet_runtime.db, quiet_runtime.templates, now=utcnow() + timedelta(minutes=2)
        )
        == 1
    )
    assert (await state(quiet_runtime, view))[1] == "expired"
    assert await goodbyes(quiet_runtime) == []


async def test_a_sweep_closes_more_than_one_batch(rt: Runtime) -> None:
    views = [await new_chat(rt, i, ttl=60) for i in range(5)]
    assert (
        await close_expired(rt.db, rt.templates, now=utcnow() + timedelta(minutes=2), batch=2) == 5
    )
    assert [(await state(rt, v))[0] for v in views] == ["closed"] * 5


async def test_two_sweepers_at_once_close_each_chat_once(rt: Runtime, settings: Settings) -> None:
    for i in range(6):
        await new_chat(rt, i, ttl=60)
    other_process = Runtime(settings, background=False)
    await other_process.start()
    try:
        later = utcnow() + timedelta(minutes=5)
        counts = await asyncio.gather(
            close_expired(rt.db, rt.templates, now=later, batch=2),
            close_expired(other_process.db, other_process.templates, now=later, batch=2),
        )
    finally:
        await other_process.stop()
    assert sum(counts) == 6
    async with rt.db.read() as session:
        closes = (
            await session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "chat.close")
            )
        ).one()
        active = (
            await session.exec(
                select(func.count()).select_from(Participant).where(col(Participant.active))
            )
        ).one()
    assert (closes, active) == (6, 0)
    assert len(await goodbyes(rt)) == 12


async def test_the_sweeper_loop_closes_due_chats(settings: Settings) -> None:
    rt = Runtime(
        make_settings(settings.database_url, sweep_interval_seconds=0.05), background=False
    )
    await rt.start()
    try:
        await add_numbers(rt, PROXY)
        view = await new_chat(rt, 0, ttl=60)
        async with rt.db.transaction() as session:
            chat = await session.get(Chat, view.chat.id)
            assert chat is not None
            chat.idle_expires_at = utcnow() - timedelta(seconds=1)
            session.add(chat)
        task = asyncio.create_task(rt.run_sweeper())
        try:
            for _ in range(200):
                if (await state(rt, view))[0] == "closed":
                    break
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
        assert await state(rt, view) == ("closed", "expired", [False, False])
    finally:
        await rt.stop()

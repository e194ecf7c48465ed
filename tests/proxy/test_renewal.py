"""Reopening a closed chat on its old routes, and extending a live chat's time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from smsproxy import events
from smsproxy.db import utcnow
from smsproxy.errors import Conflict, InvalidChat
from smsproxy.models import AuditEvent, Chat, EventRecord, ProxyNumber
from smsproxy.proxy import queries
from smsproxy.proxy.chats import close_chat
from smsproxy.proxy.lifecycle import close_expired
from smsproxy.proxy.load import count_drift
from smsproxy.proxy.membership import remove_participant
from smsproxy.proxy.pool import set_enabled
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.renewal import Extension, extend_chat, reopen_chat
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

PROXY = "+447700900901"
RIDER, DRIVER, OTHER, FOURTH = "+447700900001", "+447700900002", "+447700900003", "+447700900004"


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    await add_numbers(runtime, PROXY)
    return runtime


async def close(rt: Runtime, view: ChatView) -> None:
    async with rt.db.transaction() as session:
        chat = (await queries.get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="tests", goodbye=False, templates=rt.templates
        )


async def reopen(rt: Runtime, view: ChatView, **kwargs: object) -> ChatView:
    async with rt.db.transaction() as session:
        return await reopen_chat(session, view.chat.public_id, actor="staff:alice", **kwargs)  # type: ignore[arg-type]


async def event_names(rt: Runtime, chat_id: str) -> list[str]:
    async with rt.db.read() as session:
        rows = await session.exec(
            select(EventRecord.name)
            .where(EventRecord.chat_public_id == chat_id)
            .order_by(col(EventRecord.id))
        )
        return list(rows.all())


async def test_reopen_gives_back_the_same_routes(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    await close(rt, view)
    again = await reopen(rt, view)
    assert again.chat.status == "active"
    assert again.chat.closed_at is None and again.chat.close_reason is None
    assert [(p.proxy_number, p.active) for p in again.participants] == [(PROXY, True)] * 2
    async with rt.db.read() as session:
        assert await count_drift(session) == []
        number = (await session.exec(select(ProxyNumber))).one()
        assert (number.active_routes, number.active_chats) == (2, 1)
        audit = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "chat.reopen"))
        ).one()
    assert (audit.actor, audit.target) == ("staff:alice", view.chat.public_id)
    assert (await event_names(rt, view.chat.public_id))[-1] == events.ChatReopened.name


async def test_reopen_refuses_a_route_another_chat_took(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    await close(rt, view)
    # The driver is in a new chat on the only number: their old route is taken.
    other = await start_chat(rt, (OTHER, "Guest"), (DRIVER, "Driver"))
    with pytest.raises(Conflict) as caught:
        await reopen(rt, view)
    message = caught.value.message
    assert "Participant 2 (Driver, +44770•••••02)" in message
    assert other.chat.public_id in message
    assert DRIVER not in message  # masked, never the real number
    async with rt.db.read() as session:
        fresh = await queries.get_chat(session, view.chat.public_id)
        assert fresh.chat.status == "closed"
        assert [p.active for p in fresh.participants] == [False, False]
    # Once that chat closes, the route is free again.
    await close(rt, other)
    assert (await reopen(rt, view)).chat.status == "active"


async def test_reopen_leaves_out_who_was_removed(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"), (OTHER, "Guest"))
    async with rt.db.transaction() as session:
        await remove_participant(
            session, view.chat.public_id, view.participants[2].public_id, actor="tests"
        )
    await close(rt, view)
    again = await reopen(rt, view)
    assert [p.active for p in again.participants] == [True, True, False]


async def test_reopen_refuses_a_disabled_number_and_an_active_chat(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    with pytest.raises(Conflict, match="is active already"):
        await reopen(rt, view)
    await close(rt, view)
    async with rt.db.transaction() as session:
        await set_enabled(session, PROXY, False)
    with pytest.raises(Conflict, match="no longer an enabled number"):
        await reopen(rt, view)


async def test_reopen_drops_a_passed_expiry_and_restarts_the_idle_clock(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    async with rt.db.transaction() as session:
        await extend_chat(session, view.chat.public_id, Extension(ttl_seconds=600), actor="t")
        chat = await session.get(Chat, view.chat.id)
        assert chat is not None
        chat.expires_at = utcnow() - timedelta(seconds=1)  # as if it had been set long ago
        session.add(chat)
    assert await close_expired(rt.db, rt.templates) == 1
    before = utcnow()
    again = await reopen(rt, view)
    assert again.chat.expires_at is None
    assert again.chat.idle_expires_at is not None
    assert again.chat.idle_expires_at >= before + timedelta(seconds=600)
    # The sweeper leaves it alone now.
    assert await close_expired(rt.db, rt.templates) == 0
    later = utcnow() + timedelta(days=2)
    await close(rt, view)
    assert (await reopen(rt, view, expires_at=later)).chat.expires_at == later


async def test_extend_moves_the_expiry_and_the_idle_limit(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    first = utcnow() + timedelta(hours=2)
    async with rt.db.transaction() as session:
        done = await extend_chat(
            session, view.chat.public_id, Extension(expires_at=first), actor="t"
        )
    assert done.chat.expires_at == first
    async with rt.db.transaction() as session:
        done = await extend_chat(
            session, view.chat.public_id, Extension(by_seconds=86400, ttl_seconds=3600), actor="t"
        )
    assert done.chat.expires_at == first + timedelta(days=1)
    assert done.chat.idle_ttl_seconds == 3600
    async with rt.db.transaction() as session:
        done = await extend_chat(session, view.chat.public_id, Extension(clear_ttl=True), actor="t")
    assert done.chat.idle_ttl_seconds is None and done.chat.idle_expires_at is None
    async with rt.db.read() as session:
        entries = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "chat.extend"))
        ).all()
    assert [e.detail["fields"] for e in entries] == [
        ["expires_at"],
        ["by_seconds", "ttl_seconds"],
        ["ttl_seconds"],
    ]
    names = await event_names(rt, view.chat.public_id)
    assert names.count(events.ChatExtended.name) == 3


@pytest.mark.parametrize(
    ("extension", "error", "words"),
    [
        (Extension(), InvalidChat, "Say how to extend"),
        (Extension(by_seconds=3600), Conflict, "has no expiry to extend"),
        (Extension(by_seconds=10), InvalidChat, "by_seconds must be between"),
        (Extension(expires_at=utcnow() - timedelta(hours=1)), InvalidChat, "in the past"),
        (Extension(ttl_seconds=5), InvalidChat, "ttl_seconds must be between"),
        (
            Extension(by_seconds=3600, expires_at=utcnow() + timedelta(days=1)),
            InvalidChat,
            "not both",
        ),
    ],
)
async def test_extend_refuses_what_makes_no_sense(
    rt: Runtime, extension: Extension, error: type[Exception], words: str
) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    with pytest.raises(error, match=words):
        async with rt.db.transaction() as session:
            await extend_chat(session, view.chat.public_id, extension, actor="t")


async def test_extend_refuses_a_closed_chat(rt: Runtime) -> None:
    view = await start_chat(rt, (RIDER, "Rider"), (FOURTH, "Driver"))
    await close(rt, view)
    with pytest.raises(Conflict, match="is closed: reopen it first"):
        async with rt.db.transaction() as session:
            await extend_chat(session, view.chat.public_id, Extension(ttl_seconds=600), actor="t")

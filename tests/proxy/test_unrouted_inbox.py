"""Unrouted SMS: pages of them, what staff do with them, and the count that waits."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy import events
from smsproxy.errors import InvalidInput, NotFound
from smsproxy.models import EventRecord, Message, UnroutedState
from smsproxy.proxy import unrouted_inbox
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.proxy.unrouted_inbox import UnroutedView
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers

P1 = "+447700900901"
STRANGER = "+447700900999"


async def strays(rt: Runtime, count: int) -> list[Message]:
    await add_numbers(rt, P1)
    for n in range(count):
        await text_from_handset(rt.db, rt.routing, STRANGER, P1, f"stray {n}")
    async with rt.db.read() as session:
        found = await session.exec(select(Message).order_by(col(Message.id)))
        return list(found.all())


async def bodies(rt: Runtime, view: UnroutedView) -> list[str]:
    async with rt.db.read() as session:
        messages, _ = await unrouted_inbox.list_unrouted(session, view=view)
    return [m.body for m in messages]


async def test_unrouted_pages(runtime: Runtime) -> None:
    await strays(runtime, 3)
    async with runtime.db.read() as session:
        first, cursor = await unrouted_inbox.list_unrouted(session, limit=2)
        assert cursor is not None
        rest, end = await unrouted_inbox.list_unrouted(session, cursor=cursor, limit=2)
        found = await unrouted_inbox.get_unrouted(session, rest[0].public_id)
    assert [m.body for m in first + rest] == ["stray 2", "stray 1", "stray 0"]
    assert end is None and found.body == "stray 0"


async def test_handled_and_dismissed_leave_the_waiting_ones(runtime: Runtime) -> None:
    _, one, two = await strays(runtime, 3)
    async with runtime.db.transaction() as session:
        await unrouted_inbox.set_state(session, one.public_id, UnroutedState.handled, by="ann")
        await unrouted_inbox.set_state(session, two.public_id, UnroutedState.dismissed, by="bob")
        assert await unrouted_inbox.count_waiting(session) == 1
    assert await bodies(runtime, UnroutedView.waiting) == ["stray 0"]
    assert await bodies(runtime, UnroutedView.handled) == ["stray 1"]
    assert await bodies(runtime, UnroutedView.dismissed) == ["stray 2"]
    assert await bodies(runtime, UnroutedView.all) == ["stray 2", "stray 1", "stray 0"]
    async with runtime.db.transaction() as session:
        again = await unrouted_inbox.set_state(session, two.public_id, None, by="bob")
        assert await unrouted_inbox.count_waiting(session) == 2
    assert again.unrouted_state is None and again.unrouted_state_by is None
    assert await bodies(runtime, UnroutedView.waiting) == ["stray 2", "stray 0"]


async def test_each_change_is_an_event_and_a_repeat_is_none(runtime: Runtime) -> None:
    [stray] = await strays(runtime, 1)
    for _ in range(2):
        async with runtime.db.transaction() as session:
            await unrouted_inbox.set_state(
                session, stray.public_id, UnroutedState.handled, by="ann"
            )
    async with runtime.db.read() as session:
        found = await session.exec(
            select(EventRecord).where(EventRecord.name == events.UnroutedUpdated.name)
        )
        payloads = [(e.chat_public_id, e.payload) for e in found.all()]
    assert payloads == [
        (None, {"id": stray.public_id, "state": "handled", "chat": None, "by": "ann"})
    ]


async def test_the_count_stops_at_its_cap(runtime: Runtime) -> None:
    await strays(runtime, 4)
    async with runtime.db.read() as session:
        assert await unrouted_inbox.count_waiting(session) == 4
        assert await unrouted_inbox.count_waiting(session, cap=3) == 3


async def test_only_unrouted_sms_and_known_states(runtime: Runtime) -> None:
    await strays(runtime, 1)
    async with runtime.db.transaction() as session:
        with pytest.raises(NotFound):
            await unrouted_inbox.set_state(session, "msg_nope", UnroutedState.handled, by="ann")
    with pytest.raises(InvalidInput, match="state must be"):
        unrouted_inbox.parse_state("archived")
    with pytest.raises(InvalidInput, match="view must be one of"):
        unrouted_inbox.parse_view("spam")
    assert unrouted_inbox.parse_state("waiting") is None

"""Assignment: take a chat, give it to a colleague or to nobody; audited and live."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy import events
from smsproxy.errors import InvalidInput
from smsproxy.models import AuditEvent, EventRecord, Role, StaffUser
from smsproxy.proxy.assignment import assign_chat, assignable_staff, find_assignee
from smsproxy.proxy.chats import Templates, close_chat
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat


async def add_user(rt: Runtime, name: str, *, active: bool = True) -> StaffUser:
    user = StaffUser(username=name, password_hash="unused", role=Role.agent, active=active)
    async with rt.db.transaction() as session:
        session.add(user)
    return user


async def a_chat(rt: Runtime) -> ChatView:
    await add_numbers(rt, "+447700900901")
    return await start_chat(rt, ("+447700900001", "Rider"), ("+447700900002", "Driver"))


async def assign(rt: Runtime, view: ChatView, username: str | None, actor: str) -> bool:
    async with rt.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        who = await find_assignee(session, username)
        return await assign_chat(session, chat, who, actor=actor)


async def records(rt: Runtime, name: str) -> list[EventRecord]:
    async with rt.db.read() as session:
        query = select(EventRecord).where(EventRecord.name == name).order_by(col(EventRecord.id))
        return list((await session.exec(query)).all())


async def audit_entries(rt: Runtime) -> list[tuple[str, str, str | None, dict[str, object]]]:
    async with rt.db.read() as session:
        rows = await session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).in_(["chat.assign", "chat.unassign"]))
            .order_by(col(AuditEvent.id))
        )
        return [(e.actor, e.action, e.target, e.detail) for e in rows.all()]


async def test_take_give_and_leave_a_chat(runtime: Runtime) -> None:
    alice, bob = await add_user(runtime, "alice"), await add_user(runtime, "bob")
    view = await a_chat(runtime)
    chat_id = view.chat.public_id
    assert await assign(runtime, view, "alice", "staff:alice")
    assert await assign(runtime, view, "BOB ", "staff:alice")  # names in any case
    assert not await assign(runtime, view, "bob", "staff:bob")  # no change, no entry
    assert await assign(runtime, view, None, "api_key:spx_abc")
    assert await audit_entries(runtime) == [
        ("staff:alice", "chat.assign", chat_id, {"assignee": "alice"}),
        ("staff:alice", "chat.assign", chat_id, {"assignee": "bob"}),
        ("api_key:spx_abc", "chat.unassign", chat_id, {"assignee": None}),
    ]
    payloads = [r.payload for r in await records(runtime, events.ChatAssigned.name)]
    assert [(p["assignee_id"], p["assignee"], p["by"]) for p in payloads] == [
        (alice.id, "alice", "staff:alice"),
        (bob.id, "bob", "staff:alice"),
        (None, None, "api_key:spx_abc"),
    ]
    # The live chat shape, numbers masked as everywhere.
    assert payloads[0]["id"] == chat_id
    assert payloads[0]["participants"][0]["number"] == "+44770•••••01"


async def test_the_live_chat_shape_names_the_assignee_when_the_chat_closes(
    runtime: Runtime,
) -> None:
    alice = await add_user(runtime, "alice")
    view = await a_chat(runtime)
    [created] = await records(runtime, events.ChatCreated.name)
    assert created.payload["assignee_id"] is None and created.payload["assignee"] is None
    await assign(runtime, view, "alice", "staff:alice")
    async with runtime.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="staff:alice", goodbye=False, templates=Templates()
        )
    [closed] = await records(runtime, events.ChatClosed.name)
    assert closed.payload["assignee_id"] == alice.id
    assert closed.payload["assignee"] == "alice"


@pytest.mark.parametrize(
    ("username", "message"),
    [("nobody", "No staff member is named 'nobody'"), ("gone", "gone is disabled")],
)
async def test_only_active_staff_can_be_assigned(
    runtime: Runtime, username: str, message: str
) -> None:
    await add_user(runtime, "gone", active=False)
    view = await a_chat(runtime)
    with pytest.raises(InvalidInput, match=message) as raised:
        await assign(runtime, view, username, "staff:alice")
    assert raised.value.field == "assignee"
    assert await audit_entries(runtime) == []


async def test_the_choice_lists_active_staff_by_name(runtime: Runtime) -> None:
    for name in ("zoe", "gone", "amir"):
        await add_user(runtime, name, active=name != "gone")
    async with runtime.db.read() as session:
        assert [u.username for u in await assignable_staff(session)] == ["amir", "zoe"]

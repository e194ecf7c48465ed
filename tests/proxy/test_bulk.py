"""Bulk changes from the chat list, and saved views."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy.errors import InvalidInput, NotFound
from smsproxy.models import AuditEvent, Chat, ChatStatus, Role, StaffUser
from smsproxy.proxy.bulk import BulkChange, apply_to_chats
from smsproxy.proxy.chats import Templates
from smsproxy.proxy.labels import labels_of
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.saved_views import delete_view, save_view, views_of
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat


async def make_chats(rt: Runtime, count: int) -> list[ChatView]:
    await add_numbers(rt, "+447700900901", "+447700900902")
    return [
        await start_chat(rt, (f"+4477009001{i:02d}", f"A{i}"), (f"+4477009002{i:02d}", f"B{i}"))
        for i in range(count)
    ]


async def bulk(rt: Runtime, ids: list[str], change: BulkChange) -> int:
    async with rt.db.transaction() as session:
        return await apply_to_chats(
            session, ids, change, actor="staff:alice", templates=Templates(goodbye="Bye")
        )


async def audited(rt: Runtime, action: str) -> list[str | None]:
    async with rt.db.read() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        return [entry.target for entry in (await session.exec(query)).all()]


async def test_close_assign_and_label_many_chats(runtime: Runtime) -> None:
    views = await make_chats(runtime, 3)
    ids = [v.chat.public_id for v in views]
    async with runtime.db.transaction() as session:
        session.add(StaffUser(username="bob", password_hash="unused", role=Role.agent))
    assert await bulk(runtime, ids[:2], BulkChange("label", label=" Refund ")) == 2
    assert await bulk(runtime, ids, BulkChange("label", label="refund")) == 1
    assert await bulk(runtime, ids[1:], BulkChange("assign", assignee="bob")) == 2
    assert await bulk(runtime, [ids[0], ids[2], ids[0]], BulkChange("close")) == 2
    assert await bulk(runtime, ids[:1], BulkChange("close")) == 0  # already closed
    async with runtime.db.read() as session:
        chats = {c.public_id: c for c in (await session.exec(select(Chat))).all()}
        labels = await labels_of(session, [c.id for c in chats.values() if c.id])
    assert [chats[i].status for i in ids] == [
        ChatStatus.closed,
        ChatStatus.active,
        ChatStatus.closed,
    ]
    assert all(chats[i].close_reason == "staff" for i in (ids[0], ids[2]))
    assert [chats[i].assignee_id is not None for i in ids] == [False, True, True]
    assert sorted(labels.values()) == [["refund"]] * 3
    assert await audited(runtime, "chat.label") == [ids[0], ids[1], ids[2]]
    assert await audited(runtime, "chat.assign") == [ids[1], ids[2]]
    assert await audited(runtime, "chat.close") == [ids[0], ids[2]]


@pytest.mark.parametrize(
    ("ids", "change", "error", "message"),
    [
        ([], BulkChange("close"), InvalidInput, "Select at least one chat"),
        (None, BulkChange("delete"), InvalidInput, "Choose what to do"),
        (None, BulkChange("label", label=""), InvalidInput, "Write a label"),
        (None, BulkChange("assign", assignee="nobody"), InvalidInput, "No staff member"),
        (["ch_missing"], BulkChange("close"), NotFound, "ch_missing"),
    ],
)
async def test_refusals_change_nothing(
    runtime: Runtime,
    ids: list[str] | None,
    change: BulkChange,
    error: type[Exception],
    message: str,
) -> None:
    views = await make_chats(runtime, 2)
    chosen = [v.chat.public_id for v in views] if ids is None else ids
    if ids == ["ch_missing"]:
        chosen = [views[0].chat.public_id, "ch_missing"]
    with pytest.raises(error, match=message):
        await bulk(runtime, chosen, change)
    async with runtime.db.read() as session:
        statuses = (await session.exec(select(Chat.status))).all()
    assert set(statuses) == {ChatStatus.active}
    assert await audited(runtime, "chat.close") == []


async def test_saved_views_are_per_person_canonical_and_replaced_by_name(runtime: Runtime) -> None:
    users = [StaffUser(username=n, password_hash="x", role=Role.agent) for n in ("al", "bo")]
    async with runtime.db.transaction() as session:
        session.add_all(users)
    al, bo = (u.id for u in users)
    assert al is not None and bo is not None

    async def save(user: int, name: str, query: str) -> None:
        async with runtime.db.transaction() as session:
            await save_view(session, user, name, query, actor="staff:x", default_region="GB")

    await save(al, "  My   refunds ", "?label=Refund&view=mine&status=active&junk=1")
    await save(al, "Waiting", "status=all&sort=waiting")
    await save(al, "my refunds", "label=refund")  # same name, any case: replaced
    await save(bo, "Waiting", "view=awaiting")
    async with runtime.db.read() as session:
        mine = [(v.name, v.query) for v in await views_of(session, al)]
        theirs = [(v.name, v.query) for v in await views_of(session, bo)]
    assert mine == [
        ("my refunds", "status=active&label=refund"),
        ("Waiting", "status=all&sort=waiting"),
    ]
    assert theirs == [("Waiting", "status=active&view=awaiting")]
    with pytest.raises(InvalidInput, match="view must be"):
        await save(al, "bad", "view=nope")
    with pytest.raises(InvalidInput, match="Name the view"):
        await save(al, "  ", "")
    async with runtime.db.transaction() as session:
        [view] = await views_of(session, bo)
        assert view.id is not None
        with pytest.raises(NotFound):
            await delete_view(session, al, view.id, actor="staff:al")  # not theirs
        await delete_view(session, bo, view.id, actor="staff:bo")
    async with runtime.db.read() as session:
        assert await views_of(session, bo) == []
    assert len(await audited(runtime, "view.save")) == 4
    assert await audited(runtime, "view.delete") == [f"view:{view.id}"]

"""Labels on chats: normalised, added and removed once, audited and live."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy import events
from smsproxy.errors import InvalidInput
from smsproxy.models import AuditEvent, EventRecord
from smsproxy.proxy.labels import (
    MAX_LABELS_PER_CHAT,
    add_label,
    labels_of,
    normalise_label,
    remove_label,
)
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("VIP", "vip"),
        ("  Refund  due ", "refund due"),
        ("a", "a"),
        ("x" * 32, "x" * 32),
        ("Ünïcode ok", "ünïcode ok"),
    ],
)
def test_labels_are_normalised(raw: str, label: str) -> None:
    assert normalise_label(raw) == label


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Write a label"),
        ("   ", "Write a label"),
        ("x" * 33, "at most 32 characters"),
        ("tab\there", "control characters"),
    ],
)
def test_bad_labels_are_refused_saying_why(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        normalise_label(raw)
    assert raised.value.field == "label"


async def a_chat(rt: Runtime) -> ChatView:
    await add_numbers(rt, "+447700900901")
    return await start_chat(rt, ("+447700900001", "Rider"), ("+447700900002", "Driver"))


async def change(rt: Runtime, view: ChatView, label: str, *, remove: bool = False) -> bool:
    async with rt.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        act = remove_label if remove else add_label
        return await act(session, chat, label, actor="staff:alice")


async def test_add_and_remove_are_audited_and_live(runtime: Runtime) -> None:
    view = await a_chat(runtime)
    assert view.chat.id is not None
    assert await change(runtime, view, "Refund")
    assert not await change(runtime, view, " refund ")  # the same label
    assert await change(runtime, view, "vip")
    async with runtime.db.read() as session:
        assert await labels_of(session, [view.chat.id]) == {view.chat.id: ["refund", "vip"]}
    assert await change(runtime, view, "REFUND", remove=True)
    assert not await change(runtime, view, "refund", remove=True)
    async with runtime.db.read() as session:
        assert await labels_of(session, [view.chat.id]) == {view.chat.id: ["vip"]}
        audit = (
            await session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action).startswith("chat."))
                .where(col(AuditEvent.action) != "chat.create")
                .order_by(col(AuditEvent.id))
            )
        ).all()
        live = (
            await session.exec(
                select(EventRecord)
                .where(EventRecord.name == events.ChatLabelled.name)
                .order_by(col(EventRecord.id))
            )
        ).all()
    assert [(e.action, e.target, e.detail) for e in audit] == [
        ("chat.label", view.chat.public_id, {"label": "refund"}),
        ("chat.label", view.chat.public_id, {"label": "vip"}),
        ("chat.unlabel", view.chat.public_id, {"label": "refund"}),
    ]
    assert [(r.chat_public_id, r.payload["labels"]) for r in live] == [
        (view.chat.public_id, ["refund"]),
        (view.chat.public_id, ["refund", "vip"]),
        (view.chat.public_id, ["vip"]),
    ]


async def test_a_chat_holds_a_bounded_number_of_labels(runtime: Runtime) -> None:
    view = await a_chat(runtime)
    for number in range(MAX_LABELS_PER_CHAT):
        assert await change(runtime, view, f"l{number}")
    with pytest.raises(InvalidInput, match="at most 20 labels"):
        await change(runtime, view, "one more")

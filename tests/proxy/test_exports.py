"""Exports read a batch at a time: every message and every chat comes once, in order,
however the batches fall (messages written at the same instant included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsproxy.models import AuthorKind, Chat, ChatStatus, Message
from smsproxy.proxy import exports
from smsproxy.proxy.inbox import ChatFilter
from smsproxy.proxy.queries import get_chat
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
THEN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_a_transcript_comes_whole_across_batches(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, ("+447700900101", "Rider"), ("+447700900102", "Driver"))
    rider = view.participants[0]
    # Seven texts, three of them at the same instant: the keyset must not skip or repeat.
    times = [THEN, THEN + timedelta(seconds=1), *[THEN + timedelta(seconds=2)] * 3]
    times += [THEN + timedelta(seconds=3), THEN + timedelta(seconds=4)]
    async with runtime.db.transaction() as session:
        for index, when in enumerate(times):
            session.add(
                Message(
                    chat_id=view.chat.id,
                    author_kind=AuthorKind.participant,
                    participant_id=rider.id,
                    body=f"text {index}",
                    created_at=when,
                )
            )
    async with runtime.db.read() as session:
        view = await get_chat(session, view.chat.public_id)
        batches = [
            [entry.message.body for entry in entries]
            async for entries, _ in exports.transcript_batches(session, view, batch=2)
        ]
        rows = [row async for row in exports.transcript_rows(session, view)]
    assert batches == [
        ["text 0", "text 1"],
        ["text 2", "text 3"],
        ["text 4", "text 5"],
        ["text 6"],
    ]
    assert [row[5] for row in rows] == [f"text {n}" for n in range(7)]
    assert rows[0][3] == "Rider (+44770•••••01)"


async def test_chats_come_in_the_lists_order_across_batches(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        for index in range(5):
            session.add(
                Chat(
                    reference=f"booking-{index}",
                    status=ChatStatus.closed if index == 2 else ChatStatus.active,
                    # Two pairs share an instant: the id breaks the tie, as in the list.
                    last_activity_at=THEN + timedelta(minutes=index // 2),
                )
            )
    async with runtime.db.read() as session:
        everything = [row[2] async for row in exports.chat_rows(session, ChatFilter(), 0, batch=2)]
        active = [
            row[2]
            async for row in exports.chat_rows(session, ChatFilter(ChatStatus.active), 0, batch=2)
        ]
        searched = [
            row[2] async for row in exports.chat_rows(session, ChatFilter(text="booking-3"), 0)
        ]
        counted = await exports.count_chats(session, ChatFilter(ChatStatus.active), 0)
    assert everything == [f"booking-{n}" for n in (4, 3, 2, 1, 0)]
    assert active == [f"booking-{n}" for n in (4, 3, 1, 0)]
    assert searched == ["booking-3"]
    assert counted == 4

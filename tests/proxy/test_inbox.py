"""The inbox queries behind the dashboard: activity order and pages, search, read marks
and the newest part of a transcript."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from smsproxy import events
from smsproxy.errors import InvalidChat
from smsproxy.models import AuthorKind, ChatStatus, EventRecord, Message, Role, StaffUser
from smsproxy.proxy import inbox, transcripts
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1, P2 = "+447700900901", "+447700900902"


async def staff(rt: Runtime, name: str = "reader") -> int:
    user = StaffUser(username=name, password_hash="unused", role=Role.agent)
    async with rt.db.transaction() as session:
        session.add(user)
    assert user.id is not None
    return user.id


async def chats(rt: Runtime, count: int) -> list[ChatView]:
    await add_numbers(rt, P1, P2)
    return [
        await start_chat(rt, (f"+4477009001{i:02d}", f"A{i}"), (f"+4477009002{i:02d}", f"B{i}"))
        for i in range(count)
    ]


async def say(rt: Runtime, view: ChatView, body: str, who: int = 0) -> None:
    person = view.participants[who]
    await text_from_handset(rt.db, rt.routing, person.real_number, person.proxy_number, body)


async def test_pages_follow_activity_and_end(runtime: Runtime) -> None:
    views = await chats(runtime, 5)
    await say(runtime, views[1], "bump")  # now the most recent activity
    reader = await staff(runtime)
    seen: list[str] = []
    cursor = None
    async with runtime.db.read() as session:
        while True:
            rows, cursor = await inbox.search_chats(
                session, inbox.ChatFilter(), staff_user_id=reader, cursor=cursor, limit=2
            )
            seen += [row.view.chat.public_id for row in rows]
            if cursor is None:
                break
    expected = [views[i].chat.public_id for i in (1, 4, 3, 2, 0)]
    assert seen == expected


@pytest.mark.parametrize("cursor", ["x", "Zm9v", "YXxi", "MjAyNi0wMS0wMXwx"])
async def test_foreign_cursors_are_refused(runtime: Runtime, cursor: str) -> None:
    async with runtime.db.read() as session:
        with pytest.raises(InvalidChat, match="page link"):
            await inbox.search_chats(session, inbox.ChatFilter(), staff_user_id=1, cursor=cursor)


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        ("", None, [0, 1, 2]),
        ("", ChatStatus.closed, []),
        ("a1", None, [1]),  # a name, any case
        ("+447700900202", None, [2]),  # a participant's number
        ("07700 900100", None, [0]),  # in national format, with the default region
        ("%", None, []),  # LIKE wildcards are text
        ("_", None, []),
    ],
)
async def test_search(
    runtime: Runtime, text: str, status: ChatStatus | None, expected: list[int]
) -> None:
    views = await chats(runtime, 3)
    search = inbox.ChatFilter(status, text, default_region="GB")
    async with runtime.db.read() as session:
        rows, _ = await inbox.search_chats(session, search, staff_user_id=1)
    found = {row.view.chat.public_id for row in rows}
    assert found == {views[i].chat.public_id for i in expected}


async def test_search_by_proxy_number(runtime: Runtime) -> None:
    views = await chats(runtime, 3)
    on = {v.chat.public_id for v in views if any(p.proxy_number == P2 for p in v.participants)}
    assert on  # the pool spreads the load, so some chat is on P2
    async with runtime.db.read() as session:
        rows, _ = await inbox.search_chats(session, inbox.ChatFilter(text=P2), staff_user_id=1)
    assert {row.view.chat.public_id for row in rows} == on


async def test_read_marks_only_move_forward(runtime: Runtime) -> None:
    [view] = await chats(runtime, 1)
    reader, other = await staff(runtime), await staff(runtime, "other")
    for body in ("one", "two", "three"):
        await say(runtime, view, body)
    assert view.chat.id is not None
    async with runtime.db.read() as session:
        ids = list((await session.exec(select(Message.id).order_by(col(Message.id)))).all())
    async with runtime.db.transaction() as session:
        await inbox.mark_read(session, view.chat, reader, ids[1])
        await inbox.mark_read(session, view.chat, reader, ids[0])  # late, older: ignored
    async with runtime.db.read() as session:
        counts = await inbox.unread_counts(session, reader, [view.chat.id])
        others = await inbox.unread_counts(session, other, [view.chat.id])
    assert counts == {view.chat.id: 1} and others == {view.chat.id: 3}


async def read_events(rt: Runtime) -> list[tuple[str | None, int]]:
    async with rt.db.read() as session:
        found = await session.exec(
            select(EventRecord)
            .where(EventRecord.name == events.ChatRead.name)
            .order_by(col(EventRecord.id))
        )
        return [(e.chat_public_id, e.payload["staff_user_id"]) for e in found.all()]


async def test_reading_unread_messages_tells_the_readers_other_tabs(runtime: Runtime) -> None:
    [view] = await chats(runtime, 1)
    reader = await staff(runtime)
    await say(runtime, view, "one")
    async with runtime.db.read() as session:
        newest = await inbox.newest_message_id(session, view.chat.id or 0)
    for _ in range(2):  # the second time, nothing was unread: nothing to say
        async with runtime.db.transaction() as session:
            await inbox.mark_read(session, view.chat, reader, newest)
    assert await read_events(runtime) == [(view.chat.public_id, reader)]


async def test_transcript_keeps_the_newest(runtime: Runtime) -> None:
    [view] = await chats(runtime, 1)
    for n in range(4):
        await say(runtime, view, f"line {n}", who=n % 2)
    async with runtime.db.read() as session:
        entries, older = await transcripts.recent_transcript(session, view, limit=3)
        everything, none_older = await transcripts.recent_transcript(session, view, limit=10)
    assert [e.message.body for e in entries] == ["line 1", "line 2", "line 3"]
    assert older and not none_older and len(everything) == 4
    assert all(len(e.deliveries) == 1 for e in entries)


async def test_unread_counts_stop_at_the_cap(runtime: Runtime) -> None:
    [view] = await chats(runtime, 1)
    reader = await staff(runtime)
    author = view.participants[0]
    assert view.chat.id is not None
    async with runtime.db.transaction() as session:
        written = [
            Message(
                chat_id=view.chat.id,
                author_kind=AuthorKind.participant,
                participant_id=author.id,
                body=f"n{n}",
            )
            for n in range(inbox.UNREAD_CAP + 20)
        ]
        session.add_all(written)
        session.add(Message(chat_id=view.chat.id, author_kind=AuthorKind.staff, body="staff"))
    async with runtime.db.read() as session:
        counts = await inbox.unread_counts(session, reader, [view.chat.id])
        [row] = (await inbox.search_chats(session, inbox.ChatFilter(), staff_user_id=reader))[0]
    assert counts == {view.chat.id: inbox.UNREAD_CAP + 1}
    assert row.unread_label == "99+"
    async with runtime.db.transaction() as session:
        await inbox.mark_read(session, view.chat, reader, written[-4].id or 0)
    async with runtime.db.read() as session:
        assert await inbox.unread_counts(session, reader, [view.chat.id]) == {view.chat.id: 3}


async def test_total_unread_counts_the_most_recently_active_open_chats(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = await chats(runtime, 3)
    reader = await staff(runtime)

    async def total() -> int:
        async with runtime.db.read() as session:
            return await inbox.total_unread(session, reader)

    await say(runtime, first, "one")
    await say(runtime, second, "two")
    await say(runtime, second, "three", who=1)
    assert await total() == 3
    async with runtime.db.transaction() as session:
        assert second.chat.id is not None
        newest = await inbox.newest_message_id(session, second.chat.id)
        await inbox.mark_read(session, second.chat, reader, newest)
    assert await total() == 1
    # Only the busiest chats count: the newest activity is always among them.
    monkeypatch.setattr(inbox, "RECENT_CHATS", 1)
    await say(runtime, third, "four")
    assert await total() == 1
    await say(runtime, first, "five")
    assert await total() == 2  # "one" and "five", in the chat now most recent

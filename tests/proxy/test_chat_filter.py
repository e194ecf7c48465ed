"""The chat list's filter: parsed from a query string, applied as indexed conditions,
sorted three ways, and counted per option."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from smsproxy.db import utcnow
from smsproxy.errors import InvalidInput
from smsproxy.models import Chat, ChatStatus, Delivery, DeliveryStatus, Role, StaffUser
from smsproxy.proxy import chat_counts, inbox
from smsproxy.proxy.assignment import assign_chat
from smsproxy.proxy.chat_counts import Count, filter_counts
from smsproxy.proxy.chat_filter import ChatFilter, parse_chat_filter
from smsproxy.proxy.labels import add_label
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1, P2 = "+447700900901", "+447700900902"


def test_a_filter_round_trips_through_its_query_string() -> None:
    args = {
        "status": "all",
        "q": " booking ",
        "view": "mine",
        "assignee": "Alice",
        "label": " VIP ",
        "number": "07700 900901",
        "from": "2026-01-02",
        "to": "2026-01-31",
        "failed": "1",
        "sort": "waiting",
    }
    search = parse_chat_filter(args, "GB")
    assert search == ChatFilter(
        status=None,
        text="booking",
        default_region="GB",
        view="mine",
        assignee="alice",
        label="vip",
        number=P1,
        created_from=date(2026, 1, 2),
        created_to=date(2026, 1, 31),
        failed=True,
        sort="waiting",
    )
    assert parse_chat_filter(search.query(), "GB") == search
    assert parse_chat_filter({}, None) == ChatFilter(status=ChatStatus.active)
    assert ChatFilter(status=ChatStatus.active).query() == {"status": "active"}


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"status": "archived"}, "status", "status must be active, closed or all"),
        ({"view": "theirs"}, "view", "view must be all, mine, unassigned, unread or awaiting"),
        ({"sort": "random"}, "sort", "sort must be activity, waiting or created"),
        ({"from": "yesterday"}, "from", "from must be a date"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to", "to must be on or after from"),
        ({"number": "12"}, "number", "number: "),
        ({"label": "x" * 40}, "label", "at most 32 characters"),
    ],
)
def test_bad_values_say_which_and_why(args: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        parse_chat_filter(args, "GB")
    assert raised.value.field == field


async def add_user(rt: Runtime, name: str) -> StaffUser:
    user = StaffUser(username=name, password_hash="unused", role=Role.agent)
    async with rt.db.transaction() as session:
        session.add(user)
    return user


async def make_chats(rt: Runtime, count: int) -> list[ChatView]:
    await add_numbers(rt, P1, P2)
    return [
        await start_chat(rt, (f"+4477009001{i:02d}", f"A{i}"), (f"+4477009002{i:02d}", f"B{i}"))
        for i in range(count)
    ]


async def say(rt: Runtime, view: ChatView, body: str) -> None:
    person = view.participants[0]
    await text_from_handset(rt.db, rt.routing, person.real_number, person.proxy_number, body)


async def answer(rt: Runtime, view: ChatView) -> None:
    async with rt.db.transaction() as session:
        await send_staff_message(
            session, view.chat.public_id, "On it", staff_user_id=None, actor="staff:alice"
        )


async def shown(rt: Runtime, search: ChatFilter, staff_user_id: int, limit: int = 25) -> list[str]:
    """Every chat the filter shows, page after page."""
    seen: list[str] = []
    cursor = None
    async with rt.db.read() as session:
        while True:
            rows, cursor = await inbox.search_chats(
                session, search, staff_user_id=staff_user_id, cursor=cursor, limit=limit
            )
            seen += [row.view.chat.public_id for row in rows]
            if cursor is None:
                return seen


def ids(views: list[ChatView], *which: int) -> list[str]:
    return [views[i].chat.public_id for i in which]


async def test_awaiting_a_reply_and_oldest_waiting_first(runtime: Runtime) -> None:
    views = await make_chats(runtime, 4)
    me = await add_user(runtime, "alice")
    assert me.id is not None
    for i in (2, 0, 3):
        await say(runtime, views[i], "hello?")
    await say(runtime, views[2], "still there?")  # waits since its first text
    await answer(runtime, views[3])  # answered: no longer waits
    waiting = ChatFilter(view="awaiting")
    assert await shown(runtime, waiting, me.id) == ids(views, 2, 0)  # latest activity first
    oldest = ChatFilter(sort="waiting")
    assert await shown(runtime, oldest, me.id, limit=1) == ids(views, 2, 0)
    await say(runtime, views[3], "thanks")
    assert await shown(runtime, oldest, me.id, limit=1) == ids(views, 2, 0, 3)
    newest = ChatFilter(sort="created")
    assert await shown(runtime, newest, me.id, limit=3) == ids(views, 3, 2, 1, 0)


async def test_unread_mine_unassigned_label_number_dates_and_failed(runtime: Runtime) -> None:
    views = await make_chats(runtime, 4)
    me, other = await add_user(runtime, "alice"), await add_user(runtime, "bob")
    assert me.id is not None and other.id is not None
    await say(runtime, views[1], "unread")
    async with runtime.db.transaction() as session:
        chats = [(await get_chat(session, v.chat.public_id)).chat for v in views]
        await assign_chat(session, chats[0], me, actor="staff:alice")
        await assign_chat(session, chats[1], other, actor="staff:alice")
        await add_label(session, chats[2], "VIP", actor="staff:alice")
        await add_label(session, chats[1], "vip", actor="staff:alice")
        await session.exec(
            update(Chat)
            .where(col(Chat.id) == chats[3].id)
            .values(created_at=utcnow() - timedelta(days=40))
        )
        session.add(
            Delivery(
                kind="staff",
                chat_id=chats[2].id,
                from_number=P1,
                to_number="+447700900102",
                body="x",
                status=DeliveryStatus.failed,
            )
        )
    assert await shown(runtime, ChatFilter(view="unread"), me.id) == ids(views, 1)
    # Read marks on several chats: each chat is compared with its own mark only.
    async with runtime.db.transaction() as session:
        for view in (views[0], views[2]):
            chat = (await get_chat(session, view.chat.public_id)).chat
            await inbox.mark_read(session, chat, me.id, 2**31 - 1)
    assert await shown(runtime, ChatFilter(view="unread"), me.id) == ids(views, 1)
    assert await shown(runtime, ChatFilter(view="mine"), me.id) == ids(views, 0)
    assert await shown(runtime, ChatFilter(view="mine"), other.id) == ids(views, 1)
    assert await shown(runtime, ChatFilter(view="unassigned"), me.id) == ids(views, 3, 2)
    assert await shown(runtime, ChatFilter(assignee="bob"), me.id) == ids(views, 1)
    assert await shown(runtime, ChatFilter(label="vip"), me.id) == ids(views, 1, 2)
    assert await shown(runtime, ChatFilter(failed=True), me.id) == ids(views, 2)
    on_p1 = {v.chat.public_id for v in views if any(p.proxy_number == P1 for p in v.participants)}
    assert on_p1 and set(await shown(runtime, ChatFilter(number=P1), me.id)) == on_p1
    assert await shown(runtime, ChatFilter(number="+447700900999"), me.id) == []
    today = utcnow().date()
    recent = ChatFilter(created_from=today - timedelta(days=1), created_to=today)
    assert await shown(runtime, recent, me.id) == ids(views, 1, 2, 0)
    old = ChatFilter(created_to=today - timedelta(days=30))
    assert await shown(runtime, old, me.id) == ids(views, 3)

    async with runtime.db.read() as session:
        counts = await filter_counts(session, ChatFilter(label="vip"), me.id)
    # Each option counts with the rest of the filter (here, the label), not its own facet.
    assert values(counts.views) == {
        "all": 2,
        "mine": 0,
        "unassigned": 1,
        "unread": 1,
        "awaiting": 1,
    }
    assert values(counts.statuses) == {"active": 2, "closed": 0, "all": 2}
    assert values(counts.labels) == {"vip": 2}
    assert values(counts.assignees) == {"alice": 0, "bob": 1}
    assert counts.failed.value == 1
    per_number = Counter(n for i in (1, 2) for n in {p.proxy_number for p in views[i].participants})
    assert values(counts.numbers) == {P1: per_number[P1], P2: per_number[P2]}
    async with runtime.db.read() as session:
        everything = await filter_counts(session, ChatFilter(), me.id)
    assert values(everything.assignees) == {"alice": 1, "bob": 1}
    assert everything.views["all"].value == 4 and everything.views["mine"].value == 1


def values(counts: dict[str, Count] | list[tuple[str, Count]]) -> dict[str, int]:
    pairs = counts.items() if isinstance(counts, dict) else counts
    return {name: count.value for name, count in pairs}


async def test_counts_stop_at_the_cap(runtime: Runtime) -> None:
    await make_chats(runtime, 3)
    async with runtime.db.read() as session:
        capped = await chat_counts.count_chats(session, [], cap=2)
        exact = await chat_counts.count_chats(session, [], cap=3)
    assert (capped.value, str(capped)) == (3, "2+")
    assert (exact.value, str(exact)) == (3, "3")

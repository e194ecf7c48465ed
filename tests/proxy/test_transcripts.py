"""A chat's older messages: keyset pages of the transcript on (created_at, id), and the
chat page's "Load older messages" link, its page without scripts and its fragment."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from quart.typing import TestClientProtocol as Client
from sqlmodel import select

from smsproxy.errors import NotFound
from smsproxy.models import AuthorKind, ChatReadMark, Message
from smsproxy.proxy import transcripts
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.transcripts import TRANSCRIPT_SIZE
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1, P2 = "+447700900901", "+447700900902"
RIDER, DRIVER = "+447700900001", "+447700900002"
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def body(n: int) -> str:
    return f"line {n:03d}."


def time_of(n: int) -> datetime:
    """Every third message shares its time with the one before."""
    return START + timedelta(seconds=n - n // 3)


async def new_chat(rt: Runtime) -> ChatView:
    await add_numbers(rt, P1, P2)
    return await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))


async def write_messages(
    rt: Runtime, view: ChatView, count: int, *, shuffled: bool = False
) -> None:
    """`count` messages, `line 000.` oldest, at `time_of(n)`; shuffled, their ids are
    handed out in another order than their times."""
    times = [time_of(n) for n in range(count)]
    order = list(range(count))
    if shuffled:
        random.Random(7).shuffle(order)
    async with rt.db.transaction() as session:
        for n in order:
            session.add(
                Message(
                    chat_id=view.chat.id,
                    author_kind=AuthorKind.participant,
                    participant_id=view.participants[n % 2].id,
                    body=body(n),
                    created_at=times[n],
                )
            )
            if shuffled:
                await session.flush()  # one id each, in this order


async def page_bodies(
    rt: Runtime, view: ChatView, before: str | None, limit: int = TRANSCRIPT_SIZE
) -> tuple[list[str], bool, str | None]:
    async with rt.db.read() as session:
        entries, has_older = await transcripts.recent_transcript(
            session, view, limit, before=before
        )
    first = entries[0].message.public_id if entries else None
    return [e.message.body for e in entries], has_older, first


async def walk_back(rt: Runtime, view: ChatView, limit: int) -> list[list[str]]:
    pages, before, has_older = [], None, True
    while has_older:
        bodies, has_older, before = await page_bodies(rt, view, before, limit)
        pages.append(bodies)
    return pages


async def test_pages_walk_back_through_every_message_once(runtime: Runtime) -> None:
    view = await new_chat(runtime)
    await write_messages(runtime, view, 450)
    pages = await walk_back(runtime, view, TRANSCRIPT_SIZE)
    assert [len(p) for p in pages] == [200, 200, 50]
    assert pages[0][0] == body(250) and pages[0][-1] == body(449)
    everything = [line for page in reversed(pages) for line in page]
    assert everything == [body(n) for n in range(450)]


@pytest.mark.parametrize("limit", [2, 3, 7])
async def test_pages_follow_time_not_id_and_split_ties(runtime: Runtime, limit: int) -> None:
    view = await new_chat(runtime)
    await write_messages(runtime, view, 40, shuffled=True)
    async with runtime.db.read() as session:
        rows = (await session.exec(select(Message.id, Message.body))).all()
    id_of = {text: message_id or 0 for message_id, text in rows}
    by_id = sorted(id_of, key=lambda text: id_of[text])
    assert by_id != [body(n) for n in range(40)]  # the ids really disagree with the times
    pages = await walk_back(runtime, view, limit)
    everything = [line for page in reversed(pages) for line in page]
    # In time order; messages written at the same time in the order of their ids.
    expected = sorted(id_of, key=lambda text: (time_of(int(text[5:8])), id_of[text]))
    assert everything == expected
    assert sorted(everything) == [body(n) for n in range(40)]


async def test_a_page_stays_put_while_messages_arrive(runtime: Runtime) -> None:
    view = await new_chat(runtime)
    await write_messages(runtime, view, 30)
    _, _, before = await page_bodies(runtime, view, None, 10)
    earlier = await page_bodies(runtime, view, before, 10)
    async with runtime.db.transaction() as session:
        session.add(Message(chat_id=view.chat.id, author_kind=AuthorKind.system, body="new"))
    assert await page_bodies(runtime, view, before, 10) == earlier
    assert earlier[0] == [body(n) for n in range(10, 20)]


async def test_before_must_be_a_message_of_this_chat(runtime: Runtime) -> None:
    view = await new_chat(runtime)
    other = await start_chat(runtime, ("+447700900003", "C"), ("+447700900004", "D"))
    await write_messages(runtime, other, 3)
    async with runtime.db.read() as session:
        theirs = (
            await session.exec(select(Message).where(Message.chat_id == other.chat.id))
        ).first()
        assert theirs is not None
        for before in ("msg_nothing", theirs.public_id):
            with pytest.raises(NotFound, match="has no message"):
                await transcripts.recent_transcript(session, view, before=before)


# The chat page


async def text_of(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status_code, await response.get_data(as_text=True)


def shown(html: str) -> list[str]:
    return re.findall(r"line \d{3}\.", html)


def older_link(html: str) -> tuple[str, str]:
    found = re.search(
        r'<a class="btn btn-sm" data-role="load-older"\s+href="([^"]+)"\s+'
        r'data-fragment-url="([^"]+)">Load older messages</a>',
        html,
    )
    assert found, "no Load older messages link"
    return found.group(1).replace("&amp;", "&"), found.group(2).replace("&amp;", "&")


async def read_mark(rt: Runtime, chat_id: int | None) -> int | None:
    async with rt.db.read() as session:
        mark = (
            await session.exec(select(ChatReadMark).where(ChatReadMark.chat_id == chat_id))
        ).first()
    return mark.last_message_id if mark else None


async def test_load_older_without_scripts(staff_client: Client, app_runtime: Runtime) -> None:
    view = await new_chat(app_runtime)
    await write_messages(app_runtime, view, 250)
    chat_id = view.chat.public_id
    status, html = await text_of(staff_client, f"/chats/{chat_id}")
    assert status == 200
    assert shown(html) == [body(n) for n in range(50, 250)]
    assert "The conversation starts here." not in html and "Latest messages" not in html
    page, fragment = older_link(html)
    async with app_runtime.db.read() as session:
        oldest_shown = (await session.exec(select(Message).where(Message.body == body(50)))).one()
    assert page == f"/chats/{chat_id}?before={oldest_shown.public_id}#thread-newer"
    assert fragment == f"/chats/{chat_id}/messages?before={oldest_shown.public_id}"
    mark = await read_mark(app_runtime, view.chat.id)

    status, html = await text_of(staff_client, page.split("#")[0])
    assert status == 200
    assert shown(html) == [body(n) for n in range(50)]
    assert "The conversation starts here." in html and "Load older messages" not in html
    assert "No messages yet" not in html
    assert f'href="/chats/{chat_id}">Latest messages' in html
    assert f'data-latest-url="/chats/{chat_id}"' in html and 'id="thread-newer"' in html
    assert await read_mark(app_runtime, view.chat.id) == mark  # an old page marks nothing


async def test_older_fragment_for_the_page_script(
    staff_client: Client, app_runtime: Runtime
) -> None:
    view = await new_chat(app_runtime)
    await write_messages(app_runtime, view, 450)
    _, html = await text_of(staff_client, f"/chats/{view.chat.public_id}")
    _, fragment = older_link(html)
    response = await staff_client.get(fragment)
    piece = await response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "<html" not in piece and piece.lstrip().startswith('<div data-role="older-page"')
    assert shown(piece) == [body(n) for n in range(50, 250)]
    assert piece.count("<article") == 200 and "Rider" in piece and "Driver" in piece
    assert RIDER not in piece and DRIVER not in piece
    _, last = older_link(piece)
    response = await staff_client.get(last)
    piece = await response.get_data(as_text=True)
    assert shown(piece) == [body(n) for n in range(50)]
    assert "The conversation starts here." in piece and "load-older" not in piece


@pytest.mark.parametrize(
    "path", ["/chats/{chat}?before=msg_nothing", "/chats/{chat}/messages?before=msg_x"]
)
async def test_a_wrong_before_is_404(staff_client: Client, app_runtime: Runtime, path: str) -> None:
    view = await new_chat(app_runtime)
    status, html = await text_of(staff_client, path.format(chat=view.chat.public_id))
    assert status == 404 and "has no message" in html


async def test_a_short_chat_has_no_older_link(staff_client: Client, app_runtime: Runtime) -> None:
    view = await new_chat(app_runtime)
    await write_messages(app_runtime, view, 3)
    _, html = await text_of(staff_client, f"/chats/{view.chat.public_id}")
    assert shown(html) == [body(n) for n in range(3)] and "Load older messages" not in html

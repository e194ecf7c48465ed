"""Searching messages: words and prefixes through the full-text index, numbers in any
spelling, closed chats, erased texts gone, pages, masked numbers, and no query that
breaks it (hypothesis)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text, update
from sqlmodel import col

from smsproxy.db import Database
from smsproxy.errors import InvalidQuery
from smsproxy.models import Chat, Message
from smsproxy.proxy import search
from smsproxy.proxy.chats import close_chat
from smsproxy.proxy.erasure import erase_number
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.proxy.retention import erase_old_texts
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.proxy.search import SearchResults, search_messages
from smsproxy.proxy.search_text import query_words, snippet
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat
from tests.privacy import spelled_in

P1, P2 = "+447700900901", "+447700900902"
RIDER, DRIVER, OTHER = "+447700900001", "+447700900002", "+447700900003"


async def say(rt: Runtime, view: ChatView, body: str, who: int = 0) -> None:
    person = view.participants[who]
    await text_from_handset(rt.db, rt.routing, person.real_number, person.proxy_number, body)


async def find(rt: Runtime, query: str, **kwargs: object) -> SearchResults:
    async with rt.db.read() as session:
        return await search_messages(session, query, default_region="GB", **kwargs)  # type: ignore[arg-type]


def bodies(results: SearchResults) -> list[str]:
    return [hit.snippet.text for hit in results.hits]


async def two_chats(rt: Runtime) -> tuple[ChatView, ChatView]:
    await add_numbers(rt, P1, P2)
    first = await start_chat(rt, (RIDER, "Rider"), (DRIVER, "Driver"))
    second = await start_chat(rt, (OTHER, "Olive"), (DRIVER, "Driver"))
    await say(rt, first, "I am arriving at the station now")
    await say(rt, first, "Waiting by the blue door", who=1)
    await say(rt, second, "The station is closed, meet at the bridge")
    return first, second


async def test_words_match_whole_and_as_prefixes_newest_first(runtime: Runtime) -> None:
    first, second = await two_chats(runtime)

    station = await find(runtime, "station")
    arriv = await find(runtime, "ARRIV")
    both = await find(runtime, "station closed")

    assert bodies(station) == [
        "The station is closed, meet at the bridge",
        "I am arriving at the station now",
    ]
    assert [h.chat_id for h in station.hits] == [second.chat.public_id, first.chat.public_id]
    assert bodies(arriv) == ["I am arriving at the station now"]
    assert [part for part, marked in arriv.hits[0].snippet.parts if marked] == ["arriving"]
    assert bodies(both) == ["The station is closed, meet at the bridge"]
    assert (await find(runtime, "tation")).hits == []  # inside a word is not a match
    hit = arriv.hits[0]
    assert (hit.direction, hit.author, hit.chat_status) == ("inbound", "Rider", "active")


async def test_staff_messages_and_closed_chats_are_found(runtime: Runtime) -> None:
    first, _ = await two_chats(runtime)
    async with runtime.db.transaction() as session:
        await send_staff_message(
            session, first.chat.public_id, "Staff here: platform changed", staff_user_id=None,
            actor="t",
        )  # fmt: skip
        chat = (await get_chat(session, first.chat.public_id)).chat
        await close_chat(session, chat, reason="staff", actor="t", goodbye=False,
                         templates=runtime.templates)  # fmt: skip

    found = await find(runtime, "platform")

    assert [(h.direction, h.author, h.chat_status) for h in found.hits] == [
        ("outbound", "Staff", "closed")
    ]
    assert len((await find(runtime, "station")).hits) == 2


@pytest.mark.parametrize(
    "typed",
    ["07700 900001", "+44 7700 900001", "447700900001", "+447700900001", "0044 7700-900001"],
)
async def test_a_number_finds_its_chats_however_typed(runtime: Runtime, typed: str) -> None:
    first, _ = await two_chats(runtime)

    found = await find(runtime, typed)

    assert found.number == "+44770•••••01"
    assert {h.chat_id for h in found.hits} == {first.chat.public_id}
    assert set(bodies(found)) == {"I am arriving at the station now", "Waiting by the blue door"}


async def test_a_proxy_number_finds_the_chats_it_carries(runtime: Runtime) -> None:
    first, second = await two_chats(runtime)
    # The driver is in both, so each chat has a number of its own.
    assert {p.proxy_number for p in first.participants} == {P1}
    assert {p.proxy_number for p in second.participants} == {P2}

    found = await find(runtime, "07700 900902")

    assert {h.chat_id for h in found.hits} == {second.chat.public_id}
    assert found.number == "+44770•••••02"


async def test_results_show_masked_numbers_only(runtime: Runtime) -> None:
    await two_chats(runtime)

    for query in ("station", RIDER, "07700900002"):
        found = await find(runtime, query)
        shown = repr(found)
        assert found.hits
        assert spelled_in(shown, RIDER, DRIVER, OTHER) == []
        assert all(h.author_number and "•" in h.author_number for h in found.hits)


async def test_pages_follow_each_other_without_gaps_or_repeats(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (RIDER, "Rider"), (DRIVER, "Driver"))
    for n in range(7):
        await say(runtime, view, f"update number {n}", who=n % 2)
    await say(runtime, view, "something else")
    seen: list[str] = []
    cursor = None
    while True:
        page = await find(runtime, "update", cursor=cursor, limit=3)
        seen += bodies(page)
        assert len(page.hits) <= 3
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"update number {n}" for n in reversed(range(7))]
    by_number = await find(runtime, RIDER, limit=5)
    assert len(by_number.hits) == 5 and by_number.next_cursor is not None


async def test_erased_texts_leave_the_index(runtime: Runtime) -> None:
    _, second = await two_chats(runtime)
    async with runtime.db.transaction() as session:
        await erase_number(session, RIDER, actor="t", templates=runtime.templates)
    assert bodies(await find(runtime, "arriving")) == []
    assert len((await find(runtime, "station")).hits) == 1  # the other chat's text stays
    async with runtime.db.transaction() as session:
        chat = (await get_chat(session, second.chat.public_id)).chat
        await close_chat(session, chat, reason="staff", actor="t", goodbye=False,
                         templates=runtime.templates)  # fmt: skip
        await session.exec(update(Chat).where(col(Chat.id) == chat.id).values(
            closed_at=chat.closed_at.replace(year=2020)))  # type: ignore[union-attr]  # fmt: skip
    await erase_old_texts(runtime.db, days=30)
    assert (await find(runtime, "station")).hits == []
    terms = await index_terms(runtime.db)
    assert not {"arriving", "station", "bridge"} & terms
    if runtime.db.dialect == "sqlite":
        assert "waiting" in terms  # the driver's own words stay, and can be listed
    assert bodies(await find(runtime, "waiting")) == ["Waiting by the blue door"]


async def index_terms(db: Database) -> set[str]:
    """Every word the SQLite index still holds (PostgreSQL: none to list)."""
    if db.dialect != "sqlite":
        return set()
    async with db.transaction() as session:
        await session.exec(  # type: ignore[call-overload]
            text(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.terms "
                "USING fts5vocab(main, message_search, 'row')"
            )
        )
        rows = await session.exec(text("SELECT term FROM temp.terms"))  # type: ignore[call-overload]
        return {row[0] for row in rows.all()}


@pytest.mark.parametrize("query", ["", "   ", "!!!", '"*"', "-", "x" * 201])
async def test_queries_with_nothing_to_find_are_refused(runtime: Runtime, query: str) -> None:
    with pytest.raises(InvalidQuery) as refused:
        await find(runtime, query)
    assert refused.value.status == 400 and refused.value.message


@pytest.mark.parametrize("cursor", ["x", "Zm9v", "bTE5OTk5OTk5OTk5OTk5OTk5OTk5OTk"])
async def test_foreign_cursors_are_refused(runtime: Runtime, cursor: str) -> None:
    with pytest.raises(InvalidQuery, match="page link"):
        await find(runtime, "station", cursor=cursor)


async def test_queries_stay_out_of_the_log_above_debug(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await two_chats(runtime)
    with caplog.at_level(logging.INFO):
        await find(runtime, "bluedoorsecret")
        await find(runtime, RIDER)
    assert "bluedoorsecret" not in caplog.text and not spelled_in(caplog.text, RIDER)


def test_snippets_cut_around_the_first_match() -> None:
    body = "word " * 60 + "the needle is here " + "more " * 60
    cut = snippet(body, ["needle"])
    assert cut.text.startswith("…") and cut.text.endswith("…")
    assert len(cut.text) <= 142 and "needle" in cut.text
    start, end = cut.highlights[0]
    assert cut.text[start:end] == "needle"
    assert snippet("short text", []).text == "short text"


# Any text at all as a query, on a handful of messages: a page of hits or a clear
# refusal, never a database error; and a query of known words finds exactly the
# messages that hold every one of them (as a word or a word's start).

VOCABULARY = ["apple", "apricot", "banana", "band", "cherry", "a", "b", "42", "420"]
TEXTS = [
    "apple banana",
    "apricot band 42",
    "cherry a 420",
    "banana cherry apple",
    "b band",
    'Apple, (cherry) "banana" * NEAR OR -band',
]


@dataclass
class Loop:
    runner: asyncio.Runner
    db: Database


@pytest.fixture
def loop(runtime_url: str) -> Iterator[Loop]:
    with asyncio.Runner() as runner:
        db = Database(runtime_url)
        runner.run(_seed(db))
        yield Loop(runner, db)
        runner.run(db.dispose())


@pytest.fixture
def runtime_url(database_url: str) -> str:
    return database_url


async def _seed(db: Database) -> None:
    async with db.transaction() as session:
        chat = Chat(reference="fuzz")
        session.add(chat)
        await session.flush()
        for body in TEXTS:
            session.add(Message(chat_id=chat.id, author_kind="system", body=body))


def expected(query: str) -> list[str]:
    words = query_words(query)
    holds = [query_words(body) for body in TEXTS]
    return [
        TEXTS[i]
        for i in reversed(range(len(TEXTS)))
        if all(any(w == t or (len(w) > 1 and t.startswith(w)) for t in holds[i]) for w in words)
    ]


async def _search(db: Database, query: str) -> list[str] | None:
    async with db.read() as session:
        try:
            found = await search_messages(session, query, default_region="GB", limit=50)
        except InvalidQuery:
            return None
    return [" ".join(h.snippet.text.split()) for h in found.hits]


QUERY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


ASCII = st.characters(max_codepoint=0x7F)


@QUERY_SETTINGS
@given(st.text(ASCII, max_size=60) | st.text(alphabet="\"*^:()-+&|!<>'\\ NEAROT{}[]", max_size=30))
def test_any_query_is_answered_or_refused(loop: Loop, query: str) -> None:
    found = loop.runner.run(_search(loop.db, query))
    if found is None:
        assert not query_words(query) or len(query.strip()) > 200
    else:
        assert found == [" ".join(t.split()) for t in expected(query)]


@QUERY_SETTINGS
@given(st.text(max_size=60))
def test_any_text_at_all_is_answered_or_refused(loop: Loop, query: str) -> None:
    # Beyond ASCII the databases fold letters their own way (SQLite's FTS5 drops
    # diacritics, "À" finds "a"; PostgreSQL's simple configuration does not), so the
    # hits are not modelled here: only that every text is answered or refused, never a
    # database error.
    found = loop.runner.run(_search(loop.db, query))
    if found is None:
        assert not query_words(query) or len(query.strip()) > 200


@QUERY_SETTINGS
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3), st.sampled_from(' ,;*"()'))
def test_known_words_find_exactly_the_messages_holding_them(
    loop: Loop, words: list[str], separator: str
) -> None:
    query = separator.join(words)
    found = loop.runner.run(_search(loop.db, query))
    assert found == [" ".join(t.split()) for t in expected(query)]


async def test_a_number_in_many_chats_is_searched_newest_first_alike(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MANY_CHATS chats the query reads messages newest first instead of chat by
    chat: the same hits, in the same pages."""
    await two_chats(runtime)
    few = await find(runtime, DRIVER, limit=2)
    rest = await find(runtime, DRIVER, limit=2, cursor=few.next_cursor)
    monkeypatch.setattr(search, "MANY_CHATS", 1)
    many = await find(runtime, DRIVER, limit=2)
    many_rest = await find(runtime, DRIVER, limit=2, cursor=many.next_cursor)

    assert bodies(few) + bodies(rest) == bodies(many) + bodies(many_rest)
    assert len(bodies(many) + bodies(many_rest)) == 3  # both chats' texts


async def test_words_beyond_the_newest_messages_come_from_the_index_alike(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads the newest RECENT_WINDOW messages first and the index only when
    they do not fill a page: with a window of one message every page needs the index,
    and the pages are the same. (SQLite always reads its index.)"""
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (RIDER, "Rider"), (DRIVER, "Driver"))
    for n in range(5):
        await say(runtime, view, f"update {n}")
        await say(runtime, view, f"other {n}")

    async def pages() -> list[str]:
        seen, cursor = [], None
        while True:
            page = await find(runtime, "upd", limit=2, cursor=cursor)
            seen += bodies(page)
            if (cursor := page.next_cursor) is None:
                return seen

    wide = await pages()
    monkeypatch.setattr(search, "RECENT_WINDOW", 1)
    assert await pages() == wide == [f"update {n}" for n in (4, 3, 2, 1, 0)]

"""The search page: hits with their snippet marked, masked numbers, pages, clear
refusals; and a hit's link opens its chat around that message, even an old one."""

from __future__ import annotations

import re
from datetime import timedelta

from quart.typing import TestClientProtocol as Client

from smsproxy.db import utcnow
from smsproxy.models import Message
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.transcripts import TRANSCRIPT_SIZE
from smsproxy.runtime import Runtime
from tests.web.dashboard.pages import DRIVER, RIDER, assert_masked, reply, text


def hit_links(html: str) -> list[str]:
    return re.findall(r'<a class="search-hit-link" href="([^"]+)"', html)


async def test_words_find_messages_with_the_match_marked(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Arriving at the north entrance")
    await reply(app_runtime, chat, DRIVER, "Parked by the south entrance")

    response = await agent_client.get("/search?q=entr+north")

    html = await text(response)
    assert response.status_code == 200
    assert "<mark>north</mark>" in html and "<mark>entrance</mark>" in html
    assert "south" not in html
    assert hit_links(html) == [f"/chats/{chat.chat.public_id}?around={_id(html)}"]
    assert "+44770•••••01" in html
    assert_masked(html)


def _id(html: str) -> str:
    found = re.search(r'data-message-id="(msg_[0-9a-f]+)"', html)
    assert found
    return found.group(1)


async def test_a_number_in_any_format_finds_its_chat(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "hello from the rider")

    for typed in ("+44 7700 900001", "447700900001"):
        html = await text(await agent_client.get("/search", query_string={"q": typed}))
        assert "in chats with" in html and "+44770•••••01" in html
        assert "hello from the rider" in html
        # The query stays in the search boxes, as typed, and nowhere else on the page.
        assert html.count(typed) == 2
        assert_masked(html.replace(f'value="{typed}"', ""))


async def test_pages_of_hits_link_to_each_other(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    for n in range(30):
        await reply(app_runtime, chat, RIDER, f"update {n}")

    first = await text(await agent_client.get("/search?q=update"))
    older = re.search(r'href="(/search\?q=update&amp;cursor=[^"]+)"', first)
    assert older and len(hit_links(first)) == 25
    second = await text(await agent_client.get(older.group(1).replace("&amp;", "&")))

    assert len(hit_links(second)) == 5
    shown = re.sub(r"<[^>]+>", "", second)
    assert "update 4" in shown and "update 0" in shown and "update 5" not in shown


async def test_a_query_with_nothing_to_find_is_a_400_that_says_why(agent_client: Client) -> None:
    for query in ('"*"', "x" * 300):
        response = await agent_client.get("/search", query_string={"q": query})
        html = await text(response)
        assert response.status_code == 400
        assert 'id="search-error" role="alert"' in html
    empty = await agent_client.get("/search")
    assert empty.status_code == 200 and "search-error" not in await text(empty)


async def test_the_navigation_has_a_search_box(agent_client: Client) -> None:
    html = await text(await agent_client.get("/chats"))
    assert 'action="/search"' in html and 'name="q"' in html


async def test_a_hit_opens_its_chat_around_the_message_highlighted(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "the needle")
    later = TRANSCRIPT_SIZE + 20
    async with app_runtime.db.transaction() as session:
        for n in range(later):
            at = utcnow() + timedelta(seconds=n + 1)
            session.add(Message(chat_id=chat.chat.id, author_kind="system", body=f"later {n}",
                                created_at=at))  # fmt: skip
    latest = await text(await agent_client.get(f"/chats/{chat.chat.public_id}"))
    assert "the needle" not in latest  # beyond the first screenful
    link = hit_links(await text(await agent_client.get("/search?q=needle")))[0]

    html = await text(await agent_client.get(link))

    found = re.search(r'<article class="bubble [^"]*is-found"[^>]*>.*?</article>', html, re.S)
    assert found and "the needle" in found.group(0)
    half = TRANSCRIPT_SIZE // 2
    assert f"later {half - 1}<" in html and f"later {half}<" not in html
    assert html.count("<article") <= TRANSCRIPT_SIZE
    assert 'data-latest-url="' in html and 'id="thread-newer"' in html


async def test_a_hit_among_the_newest_opens_the_live_page(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "the needle")
    link = hit_links(await text(await agent_client.get("/search?q=needle")))[0]

    html = await text(await agent_client.get(link))

    assert "is-found" in html and "data-latest-url" not in html

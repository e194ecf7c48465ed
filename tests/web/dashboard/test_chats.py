"""The chat list: masking, order, filters, search, live rows and unread counts."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import col

from smsproxy.models import (
    Message,
)
from smsproxy.proxy.chats import ChatSpec, NewParticipant, Templates, create_chat
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_headers, csrf_post, logged_in_client
from tests.helpers import add_numbers, start_chat
from tests.web.dashboard.pages import (
    DRIVER,
    P1,
    RIDER,
    assert_masked,
    reply,
    rows_of,
    text,
)


async def test_first_visit_shows_what_to_do_next(staff_client: Client) -> None:
    response = await staff_client.get("/chats")
    html = await text(response)
    assert response.status_code == 200
    assert "No chats yet" in html
    assert 'href="/numbers"' in html and 'href="/chats/new"' in html
    assert 'href="/sandbox"' in html


async def test_chat_list_shows_masked_participants_and_latest_message(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Where are you?")
    html = await text(await staff_client.get("/chats"))
    assert f'id="chat-{chat.chat.public_id}"' in html
    assert "Rider, Driver" in html
    assert "+44770•••••01" in html and "+44770•••••02" in html
    assert P1 in html  # proxy numbers are the service's own, shown in full
    assert "Rider:</span> Where are you?" in html
    assert_masked(html)


async def test_chat_list_puts_latest_activity_first(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    later = await start_chat(app_runtime, ("+447700900003", "Alex"), ("+447700900004", "Jo"))
    html = await text(await staff_client.get("/chats"))
    assert html.index(later.chat.public_id) < html.index(chat.chat.public_id)
    await reply(app_runtime, chat, DRIVER, "On my way")
    html = await text(await staff_client.get("/chats"))
    assert html.index(chat.chat.public_id) < html.index(later.chat.public_id)


async def test_status_filter(staff_client: Client, app_runtime: Runtime, chat: ChatView) -> None:
    closed = await start_chat(app_runtime, ("+447700900003", "Alex"), ("+447700900004", "Jo"))
    await csrf_post(staff_client, f"/chats/{closed.chat.public_id}/close", {})
    active = await text(await staff_client.get("/chats"))
    only_closed = await text(await staff_client.get("/chats?status=closed"))
    everything = await text(await staff_client.get("/chats?status=all"))
    assert chat.chat.public_id in active and closed.chat.public_id not in active
    assert closed.chat.public_id in only_closed and chat.chat.public_id not in only_closed
    assert chat.chat.public_id in everything and closed.chat.public_id in everything
    response = await staff_client.get("/chats?status=archived")
    assert response.status_code == 400
    assert "status must be active, closed or all" in await text(response)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("BK-10", True),  # part of the reference
        ("driv", True),  # part of a name, any case
        ("+44 7700 900002", True),  # a participant's number, formatted
        ("00447700900001", True),  # the other participant, international prefix
        (P1, True),  # the proxy number
        ("+447700900003", False),  # somebody else's number
        ("4477009", False),  # a fragment of a number is not a number
        ("nobody", False),
    ],
)
async def test_search(staff_client: Client, app_runtime: Runtime, query: str, found: bool) -> None:
    await add_numbers(app_runtime, P1)
    async with app_runtime.db.transaction() as session:
        view = await create_chat(
            session,
            ChatSpec(
                [NewParticipant(RIDER, "Rider"), NewParticipant(DRIVER, "Driver")],
                reference="BK-1042",
            ),
            templates=Templates(),
            actor="tests",
        )
    response = await staff_client.get("/chats", query_string={"q": query, "status": "all"})
    html = await text(response)
    assert response.status_code == 200
    assert (view.chat.public_id in html) is found
    if not found:
        assert f"No chat matches “{query}”" in html and "The search found nothing" in html
        assert "New ones appear here" not in html
    assert_masked(html.replace(query, ""))  # what was typed may be echoed; nothing more


async def test_a_search_that_finds_nothing_says_so_even_with_no_chats(
    staff_client: Client,
) -> None:
    html = await text(await staff_client.get("/chats", query_string={"q": "BK-9"}))
    assert "No active chat matches “BK-9”" in html and "The search found nothing among" in html
    assert "No chats yet" not in html and "New ones appear here" not in html
    assert 'href="/chats?status=all&amp;q=BK-9">Search all chats' in html


async def test_density_is_chosen_by_a_link_and_remembered(
    staff_client: Client, chat: ChatView
) -> None:
    assert 'class="inbox"' in await text(await staff_client.get("/chats"))
    chosen = await staff_client.get("/chats?density=compact")
    assert 'class="inbox is-compact"' in await text(chosen)
    assert "chat_list_density=compact" in chosen.headers["Set-Cookie"]
    html = await text(await staff_client.get("/chats?status=all"))
    assert 'class="inbox is-compact"' in html
    assert '<a class="tab" href="/chats?status=all&amp;density=comfortable">' in html
    back = await text(await staff_client.get("/chats?density=comfortable"))
    assert 'class="inbox"' in back


async def test_bad_page_link_is_a_clear_error(staff_client: Client) -> None:
    response = await staff_client.get("/chats?cursor=not-a-cursor")
    assert response.status_code == 422
    assert "That page link is not valid any more" in await text(response)


async def test_row_fragment_follows_the_filter(staff_client: Client, chat: ChatView) -> None:
    chat_id = chat.chat.public_id
    response = await staff_client.get(f"/chats/{chat_id}/row?status=active")
    html = await text(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert html.lstrip().startswith("<li") and f'data-item-id="{chat_id}"' in html
    assert "<html" not in html
    assert_masked(html)
    assert (await staff_client.get(f"/chats/{chat_id}/row?status=closed")).status_code == 204
    assert (await staff_client.get(f"/chats/{chat_id}/row?q=nomatch")).status_code == 204


def unread_of(html: str, chat_id: str) -> int | None:
    row = html[html.index(f'id="chat-{chat_id}"') :]
    badge = re.search(r'<span class="unread" data-role="unread"( hidden)?>(\d+)', row)
    assert badge
    return None if badge.group(1) else int(badge.group(2))


async def test_unread_counts_are_per_person(
    app: Quart, staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    chat_id = chat.chat.public_id
    agent = await logged_in_client(app, "second-agent", "agent")
    await reply(app_runtime, chat, RIDER, "one")
    await reply(app_runtime, chat, DRIVER, "two")
    # The intro (a system message) never counts: nobody needs to answer it.
    assert unread_of(await text(await staff_client.get("/chats")), chat_id) == 2

    await staff_client.get(f"/chats/{chat_id}")  # opening the chat reads it
    assert unread_of(await text(await staff_client.get("/chats")), chat_id) is None
    assert unread_of(await text(await agent.get("/chats")), chat_id) == 2

    await reply(app_runtime, chat, RIDER, "three")
    await csrf_post(staff_client, f"/chats/{chat_id}/messages", {"body": "Staff here"})
    assert unread_of(await text(await staff_client.get("/chats")), chat_id) == 1
    assert unread_of(await text(await agent.get("/chats")), chat_id) == 3


async def test_live_page_marks_what_it_showed_as_read(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    chat_id = chat.chat.public_id
    await reply(app_runtime, chat, RIDER, "seen live")
    [seen] = await rows_of(app_runtime, Message, col(Message.body) == "seen live")
    await reply(app_runtime, chat, RIDER, "not yet shown")
    response = await staff_client.post(
        f"/chats/{chat_id}/read",
        form={"message_id": seen.public_id},
        headers=await csrf_headers(staff_client),
    )
    assert response.status_code == 204
    assert unread_of(await text(await staff_client.get("/chats")), chat_id) == 1

"""Triage forms on the chat page and the list: take, assign, unassign, labels."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlmodel import col

from smsproxy.models import AuditEvent, Chat
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import add_staff, csrf_post
from tests.helpers import start_chat
from tests.web.dashboard.pages import rows_of, text


def row_html(html: str, chat_id: str) -> str:
    match = re.search(rf'<li class="inbox-row[^"]*" id="chat-{chat_id}".*?</li>', html, re.S)
    assert match, f"no row for {chat_id}"
    return match.group(0)


async def assignee_of(rt: Runtime, view: ChatView) -> int | None:
    [chat] = await rows_of(rt, Chat, col(Chat.id) == view.chat.id)
    return chat.assignee_id


async def test_take_from_the_list_comes_back_to_the_list(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    chat_id = chat.chat.public_id
    before = row_html(await text(await staff_client.get("/chats")), chat_id)
    assert "Unassigned" in before and ">Take<" in before
    response = await csrf_post(
        staff_client,
        f"/chats/{chat_id}/assignee",
        {"take": "1", "next": "/chats?view=unassigned"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/chats?view=unassigned"
    after = await text(await staff_client.get("/chats?view=mine"))
    assert 'class="assignee-chip">You<' in row_html(after, chat_id)
    assert "You took the chat." in after
    assert chat_id not in await text(await staff_client.get("/chats?view=unassigned"))
    [entry] = await rows_of(app_runtime, AuditEvent, AuditEvent.action == "chat.assign")
    assert (entry.actor, entry.target, entry.detail) == (
        "staff:test-admin",
        chat_id,
        {"assignee": "test-admin"},
    )


async def test_assign_to_a_colleague_and_to_nobody_on_the_chat_page(
    app: Quart, staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    colleague = await add_staff(app, "colleague")
    chat_id = chat.chat.public_id
    page = await text(await staff_client.get(f"/chats/{chat_id}"))
    assert "Nobody yet" in page
    assert '<option value="colleague">colleague</option>' in page
    response = await csrf_post(
        staff_client, f"/chats/{chat_id}/assignee", {"assignee": "colleague"}
    )
    assert response.headers["Location"] == f"/chats/{chat_id}"
    assert await assignee_of(app_runtime, chat) == colleague.id
    page = await text(await staff_client.get(f"/chats/{chat_id}"))
    assert '<span class="assignee-chip">colleague</span>' in page
    assert "The chat is assigned to colleague." in page
    assert '<option value="colleague" selected>' in page
    row = row_html(await text(await staff_client.get("/chats")), chat_id)
    assert '<span class="assignee-chip">colleague</span>' in row
    await csrf_post(staff_client, f"/chats/{chat_id}/assignee", {"assignee": ""})
    assert await assignee_of(app_runtime, chat) is None
    assert "The chat is unassigned." in await text(await staff_client.get(f"/chats/{chat_id}"))


async def test_an_unknown_assignee_is_refused_with_a_message(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    chat_id = chat.chat.public_id
    await csrf_post(staff_client, f"/chats/{chat_id}/assignee", {"assignee": "mallory"})
    assert await assignee_of(app_runtime, chat) is None
    page = await text(await staff_client.get(f"/chats/{chat_id}"))
    assert "No staff member is named &#39;mallory&#39;" in page


async def test_next_must_be_a_chat_list_page(staff_client: Client, chat: ChatView) -> None:
    chat_id = chat.chat.public_id
    for foreign in (
        "https://evil.example/chats",
        "//evil.example/chats",
        "/logout",
        "/chats/../logout",
        "/chatsX",
    ):
        response = await csrf_post(
            staff_client, f"/chats/{chat_id}/assignee", {"take": "1", "next": foreign}
        )
        assert response.headers["Location"] == f"/chats/{chat_id}"


async def test_the_live_row_shows_the_assignee_and_leaves_mine_when_given_away(
    app: Quart, staff_client: Client, chat: ChatView
) -> None:
    await add_staff(app, "colleague")
    chat_id = chat.chat.public_id
    await csrf_post(staff_client, f"/chats/{chat_id}/assignee", {"take": "1"})
    row = await staff_client.get(f"/chats/{chat_id}/row?view=mine")
    assert row.status_code == 200 and "assignee-chip" in await text(row)
    await csrf_post(staff_client, f"/chats/{chat_id}/assignee", {"assignee": "colleague"})
    assert (await staff_client.get(f"/chats/{chat_id}/row?view=mine")).status_code == 204
    panel = await text(await staff_client.get(f"/chats/{chat_id}/triage"))
    assert '<span class="assignee-chip">colleague</span>' in panel


async def test_labels_are_added_shown_and_removed(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    chat_id = chat.chat.public_id
    response = await csrf_post(staff_client, f"/chats/{chat_id}/labels", {"label": " Refund "})
    assert response.status_code == 303
    page = await text(await staff_client.get(f"/chats/{chat_id}"))
    assert "Label added." in page
    assert '<li class="label-chip">refund' in page
    row = row_html(await text(await staff_client.get("/chats")), chat_id)
    assert '<span class="label-chip">refund</span>' in row
    await csrf_post(staff_client, f"/chats/{chat_id}/labels", {"label": "refund", "remove": "1"})
    page = await text(await staff_client.get(f"/chats/{chat_id}"))
    assert "Label removed." in page and "No labels." in page
    entries = await rows_of(app_runtime, AuditEvent, col(AuditEvent.action).like("chat.%label"))
    assert [e.action for e in entries] == ["chat.label", "chat.unlabel"]


async def test_a_bad_label_says_what_is_wrong(staff_client: Client, chat: ChatView) -> None:
    chat_id = chat.chat.public_id
    await csrf_post(staff_client, f"/chats/{chat_id}/labels", {"label": "x" * 40})
    page = await text(await staff_client.get(f"/chats/{chat_id}"))
    assert "A label is at most 32 characters" in page
    assert "No labels." in page


async def test_filters_are_query_parameters_with_counts(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    other = await start_chat(app_runtime, ("+447700900003", "Alex"), ("+447700900004", "Jo"))
    chat_id = chat.chat.public_id
    await csrf_post(staff_client, f"/chats/{chat_id}/labels", {"label": "refund"})
    html = await text(await staff_client.get("/chats"))
    assert '<option value="refund">refund (1)</option>' in html
    assert re.search(r'>Unassigned<span class="count">2</span>', html)
    assert re.search(r'>Active<span class="count">2</span>', html)
    filtered = await text(await staff_client.get("/chats?label=refund&sort=created"))
    assert chat_id in filtered and other.chat.public_id not in filtered
    assert '<option value="refund" selected>refund (1)</option>' in filtered
    assert '<option value="created" selected>' in filtered
    # Links keep the filter: the status tabs, and the row URL the live script uses.
    assert 'href="/chats?status=closed&amp;label=refund&amp;sort=created"' in filtered
    assert "/row?status=active&amp;label=refund&amp;sort=created" in filtered
    assert "No chat matches these filters" in await text(
        await staff_client.get("/chats?label=refund&view=mine")
    )


async def test_a_bad_filter_value_is_a_400_that_says_which(staff_client: Client) -> None:
    for query, message in [
        ("view=theirs", "view must be all, mine, unassigned, unread or awaiting"),
        ("from=31/12/2026", "from must be a date such as 2026-12-31"),
        ("sort=random", "sort must be activity, waiting or created"),
    ]:
        response = await staff_client.get(f"/chats?{query}")
        assert response.status_code == 400
        assert message in await text(response)

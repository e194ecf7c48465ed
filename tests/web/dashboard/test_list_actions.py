"""The chat list's bulk form and saved views, as plain form posts."""

from __future__ import annotations

from urllib.parse import urlencode

from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response
from sqlmodel import col

from smsproxy.models import AuditEvent, Chat, ChatStatus, SavedView
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post, csrf_token_of
from tests.helpers import start_chat
from tests.web.dashboard.pages import rows_of, text


async def post_form(client: Client, path: str, pairs: list[tuple[str, str]]) -> Response:
    """A form with repeated fields (the ticked boxes), as a browser sends it."""
    token = await csrf_token_of(client)
    headers = {
        "Origin": "http://localhost",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = urlencode([*pairs, ("csrf_token", token)])
    return await client.post(path, data=body.encode(), headers=headers)


async def statuses(rt: Runtime) -> dict[str, ChatStatus]:
    return {c.public_id: c.status for c in await rows_of(rt, Chat)}


async def test_bulk_close_of_the_ticked_chats(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    second = await start_chat(app_runtime, ("+447700900003", "Alex"), ("+447700900004", "Jo"))
    third = await start_chat(app_runtime, ("+447700900005", "Sam"), ("+447700900006", "Kim"))
    page = await text(await staff_client.get("/chats"))
    assert 'form="bulk"' in page and 'id="select-all"' in page
    ids = [chat.chat.public_id, second.chat.public_id]
    pairs = [("action", "close"), *(("chat", i) for i in ids), ("next", "/chats?status=all")]
    response = await post_form(staff_client, "/chats/bulk", pairs)
    assert response.status_code == 303 and response.headers["Location"] == "/chats?status=all"
    found = await statuses(app_runtime)
    assert [found[i] for i in ids] == [ChatStatus.closed] * 2
    assert found[third.chat.public_id] == ChatStatus.active
    assert "2 of 2 chats closed." in await text(await staff_client.get("/chats?status=all"))
    closes = await rows_of(app_runtime, AuditEvent, col(AuditEvent.action) == "chat.close")
    assert sorted(e.target for e in closes) == sorted(ids)


async def test_select_all_shown_works_without_scripts(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    second = await start_chat(app_runtime, ("+447700900003", "Alex"), ("+447700900004", "Jo"))
    ids = [chat.chat.public_id, second.chat.public_id]
    pairs = [("action", "label"), ("label", "Follow up"), ("all_shown", "1")]
    await post_form(staff_client, "/chats/bulk", [*pairs, *(("shown", i) for i in ids)])
    page = await text(await staff_client.get("/chats?label=follow+up"))
    assert "2 of 2 chats labelled." in page
    assert all(i in page for i in ids)


async def test_bulk_refusals_say_why(staff_client: Client, chat: ChatView) -> None:
    await csrf_post(staff_client, "/chats/bulk", {"action": "close"})
    assert "Select at least one chat first" in await text(await staff_client.get("/chats"))
    form = {"action": "assign", "assignee": "nobody-here", "chat": chat.chat.public_id}
    await csrf_post(staff_client, "/chats/bulk", form)
    assert "No staff member is named" in await text(await staff_client.get("/chats"))
    response = await staff_client.post("/chats/bulk", form={"action": "close"})
    assert response.status_code in (400, 403)  # no CSRF token


async def test_save_use_and_delete_a_view(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    response = await csrf_post(
        staff_client, "/chats/views", {"name": "Waiting", "query": "view=awaiting&sort=waiting"}
    )
    assert response.headers["Location"] == "/chats?status=active&view=awaiting&sort=waiting"
    page = await text(await staff_client.get(response.headers["Location"]))
    assert "Saved the view “Waiting”." in page
    assert (
        '<a class="btn btn-ghost btn-sm" '
        'href="/chats?status=active&amp;view=awaiting&amp;sort=waiting" aria-current="page">'
        "Waiting</a>"
    ) in page
    [view] = await rows_of(app_runtime, SavedView)
    await csrf_post(staff_client, f"/chats/views/{view.id}/delete", {"next": "/chats"})
    page = await text(await staff_client.get("/chats"))
    assert "Deleted the view “Waiting”." in page and "none yet." in page
    await csrf_post(staff_client, "/chats/views", {"name": "", "query": ""})
    assert "Name the view" in await text(await staff_client.get("/chats"))

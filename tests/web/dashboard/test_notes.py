"""Private notes on the chat page: the composer's note mode and a closed chat's note
form (with and without scripts), the card among the messages, the fragment the live
script fetches."""

from __future__ import annotations

import re
from datetime import timedelta

from quart.typing import TestClientProtocol as Client

from smsproxy.models import AuditEvent, ChatNote, Delivery
from smsproxy.proxy.notes import add_note
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_headers, csrf_post
from tests.proxy.test_transcripts import body, time_of, write_messages
from tests.web.dashboard.pages import JSON, RIDER, bubble, field_error, reply, rows_of, text


async def test_a_note_from_the_form_shows_as_a_note_card_among_the_messages(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Where are you?")
    sms_before = len(await rows_of(app_runtime, Delivery))
    page = f"/chats/{chat.chat.public_id}"
    note = {"mode": "note", "body": "Called the driver", "to": "all"}
    response = await csrf_post(staff_client, f"{page}/messages", note)
    assert response.status_code == 303 and response.headers["Location"] == page
    await reply(app_runtime, chat, RIDER, "Found him")

    html = await text(await staff_client.get(page))
    assert "Note kept. Only staff see it: it was not sent." in html
    assert html.index("Where are you?") < html.index("Called the driver") < html.index("Found him")
    card = bubble(html, "Called the driver")
    assert 'class="bubble note-card"' in card and 'data-kind="note"' in card
    assert '<span class="who">test-admin</span>' in card and "Private note" in card
    assert 'value="note"> Private note — not sent</label>' in html
    # No SMS for the note: only the rider's two texts were forwarded.
    assert len(await rows_of(app_runtime, Delivery)) == sms_before + 1
    [entry] = await rows_of(app_runtime, AuditEvent, AuditEvent.action == "note.add")
    assert (entry.actor, entry.target) == ("staff:test-admin", chat.chat.public_id)
    assert "Called the driver" not in repr(entry.detail)


async def test_an_empty_note_is_refused_and_the_form_says_why(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    page = f"/chats/{chat.chat.public_id}"
    response = await csrf_post(staff_client, f"{page}/messages", {"mode": "note", "body": " "})
    html = await text(response)
    assert response.status_code == 422
    assert field_error(html, "body") == "The note is empty: write something to keep"
    # The composer stays in its note mode, the text as typed.
    assert '<input type="radio" name="mode" value="note" checked>' in html
    long = "x" * 1700  # longer than an SMS conversation turn, within a note's limit
    response = await csrf_post(staff_client, f"{page}/messages", {"mode": "note", "body": long})
    assert response.status_code == 303
    assert [n.body for n in await rows_of(app_runtime, ChatNote)] == [long]


async def test_the_script_gets_json_and_the_card_as_a_fragment(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    page = f"/chats/{chat.chat.public_id}"
    headers = {**JSON, **await csrf_headers(agent_client)}
    form = {"mode": "note", "body": "VIP"}
    response = await agent_client.post(f"{page}/messages", form=form, headers=headers)
    assert response.status_code == 201
    note_id = (await response.get_json())["note_id"]
    fragment = await agent_client.get(f"{page}/notes/{note_id}")
    card = await text(fragment)
    assert fragment.headers["Cache-Control"] == "no-store"
    assert card.startswith("<article") and f'data-note-id="{note_id}"' in card
    assert "VIP" in card and "test-agent" in card
    form = {"mode": "note", "body": "x" * 2001}
    long = await agent_client.post(f"{page}/messages", form=form, headers=headers)
    assert long.status_code == 422
    assert "at most 2000" in (await long.get_json())["error"]["fields"]["body"]
    missing = await agent_client.get(f"{page}/notes/nt_nope")
    assert missing.status_code == 404


async def test_a_closed_chat_still_takes_notes(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    page = f"/chats/{chat.chat.public_id}"
    await csrf_post(staff_client, f"{page}/close", {})
    html = await text(await staff_client.get(page))
    assert 'id="composer"' not in html and 'id="note-form"' in html
    response = await csrf_post(staff_client, f"{page}/notes", {"note": "Refund agreed"})
    assert response.status_code == 303
    assert "Refund agreed" in await text(await staff_client.get(page))
    response = await csrf_post(staff_client, f"{page}/notes", {"note": ""})
    html = await text(response)
    assert response.status_code == 422
    assert field_error(html, "note") == "The note is empty: write something to keep"
    assert '<details class="note-panel" id="note-panel" open>' in html


async def test_each_page_of_history_holds_the_notes_of_its_span(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await write_messages(app_runtime, chat, 250)  # the page shows the newest 200
    for n, words in ((10, "Early note"), (240, "Late note")):
        async with app_runtime.db.transaction() as session:
            await add_note(
                session,
                chat.chat.public_id,
                words,
                author="test-admin",
                staff_user_id=None,
                actor="t",
                now=time_of(n) + timedelta(milliseconds=1),
            )
    page = f"/chats/{chat.chat.public_id}"
    html = await text(await staff_client.get(page))
    assert "Late note" in html and "Early note" not in html
    assert html.index(body(240)) < html.index("Late note") < html.index(body(241))
    oldest_shown = re.search(r'href="[^"]*before=([^"#&]+)', html)
    assert oldest_shown
    older = await text(await staff_client.get(f"{page}/messages?before={oldest_shown.group(1)}"))
    assert "Early note" in older and "Late note" not in older
    assert older.index(body(10)) < older.index("Early note") < older.index(body(11))

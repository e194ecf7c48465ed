"""The staff dashboard pages through Quart's test client, on the real database.

Every page is checked for its main success and error paths, for masking (a participant's
full number appears on no page but the sandbox's), for admin-only actions, and for CSRF.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response
from sqlmodel import col, select

from smsproxy.app import create_app
from smsproxy.carrier import InboundSms
from smsproxy.models import (
    ApiKey,
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    Participant,
    ProxyNumber,
)
from smsproxy.proxy import keys
from smsproxy.proxy.chats import ChatSpec, NewParticipant, Templates, create_chat
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.queries import ChatView
from smsproxy.proxy.routing import RoutingOptions
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.conftest import csrf_headers, csrf_post, logged_in_client, make_settings
from tests.helpers import add_numbers, start_chat

P1, P2 = "+447700900901", "+447700900902"
RIDER, DRIVER = "+447700900001", "+447700900002"
STRANGER = "+447700900999"
REAL_NUMBERS = (RIDER, DRIVER, STRANGER)
JSON = {"Accept": "application/json"}


async def text(response: Response) -> str:
    return await response.get_data(as_text=True)


def assert_masked(html: str) -> None:
    """No participant's real number, in any usual spelling, is on the page."""
    for number in REAL_NUMBERS:
        for spelling in (number, number[1:], "0" + number[3:]):
            assert spelling not in html, f"{spelling} shown in full"


def bubble(html: str, body: str) -> str:
    """The <article> of the message whose text is `body`."""
    at = html.index(body)
    start = html.rindex("<article", 0, at)
    return html[start : html.index("</article>", at)]


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert found, f"no error shown for {field_id}"
    return found.group(1)


@pytest.fixture
async def chat(app_runtime: Runtime) -> ChatView:
    await add_numbers(app_runtime, P1, P2)
    return await start_chat(app_runtime, (RIDER, "Rider"), (DRIVER, "Driver"), intro=True)


async def rows_of(rt: Runtime, model: Any, *conditions: Any) -> list[Any]:
    async with rt.db.read() as session:
        return list((await session.exec(select(model).where(*conditions))).all())


async def reply(rt: Runtime, view: ChatView, sender: str, body: str) -> None:
    proxy = next(p.proxy_number for p in view.participants if p.real_number == sender)
    await text_from_handset(rt.db, rt.routing, sender, proxy, body)


# The chat list


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
        assert "No chats here" in html and "No chat matches" in html
    assert_masked(html.replace(query, ""))  # what was typed may be echoed; nothing more


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


# One chat


async def test_chat_page_shows_the_transcript_as_bubbles(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Hi from the rider")
    await reply(app_runtime, chat, DRIVER, "Hi from the driver")
    await csrf_post(staff_client, f"/chats/{chat.chat.public_id}/messages", {"body": "Staff note"})
    response = await staff_client.get(f"/chats/{chat.chat.public_id}")
    html = await text(response)
    assert response.status_code == 200
    assert html.index("Hi from the rider") < html.index("Hi from the driver")
    assert html.index("Hi from the driver") < html.index("Staff note")  # newest at the bottom
    intro = bubble(html, "Hello ")
    assert 'class="bubble from-system"' in intro and "Intro" in intro
    rider = bubble(html, "Hi from the rider")
    assert 'class="bubble from-p0"' in rider and "Rider" in rider and "to Driver" in rider
    assert 'class="bubble from-p1"' in bubble(html, "Hi from the driver")
    staff = bubble(html, "Staff note")
    assert 'class="bubble from-staff"' in staff and '<span class="who">test-admin</span>' in staff
    assert "to Rider" in staff and "to Driver" in staff
    assert html.count('data-role="status" data-status="queued">Queued') == 6
    assert 'data-last-event-id="' in html and 'role="log"' in html
    assert "+44770•••••01" in html
    assert_masked(html)


async def test_delivery_states_and_failures_show(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "Are you there?")
    async with app_runtime.db.transaction() as session:
        delivery = (
            await session.exec(select(Delivery).where(Delivery.kind == DeliveryKind.forward))
        ).one()
        delivery.status = DeliveryStatus.failed
        delivery.error = "Carrier refused: number barred"
        session.add(delivery)
    html = await text(await staff_client.get(f"/chats/{chat.chat.public_id}"))
    item = html[html.index(f'data-delivery-id="{delivery.public_id}"') :]
    item = item[: item.index("</li>")]
    assert "to Driver" in item and 'data-status="failed">Failed' in item
    assert "Carrier refused: number barred" in item and " hidden" not in item


async def test_message_fragment(staff_client: Client, app_runtime: Runtime, chat: ChatView) -> None:
    await reply(app_runtime, chat, DRIVER, "fragment me")
    [message] = await rows_of(app_runtime, Message, col(Message.body) == "fragment me")
    response = await staff_client.get(f"/chats/{chat.chat.public_id}/messages/{message.public_id}")
    html = await text(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith("<article") and "fragment me" in html
    assert "from-p1" in html and "to Rider" in html
    assert_masked(html)
    missing = await staff_client.get(f"/chats/{chat.chat.public_id}/messages/msg_nothing")
    assert missing.status_code == 404


async def test_unknown_chat_is_404(staff_client: Client) -> None:
    response = await staff_client.get("/chats/ch_doesnotexist")
    assert response.status_code == 404 and "No chat with id" in await text(response)


async def test_staff_message_to_everyone(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    response = await csrf_post(
        staff_client,
        f"/chats/{chat.chat.public_id}/messages",
        {"body": "Driver is late", "to": "all"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/chats/{chat.chat.public_id}"
    [message] = await rows_of(app_runtime, Message, col(Message.body) == "Driver is late")
    assert message.author_kind == "staff" and message.staff_user_id is not None
    sent = await rows_of(app_runtime, Delivery, col(Delivery.message_id) == message.id)
    assert sorted(d.to_number for d in sent) == [RIDER, DRIVER]
    assert {d.from_number for d in sent} == {p.proxy_number for p in chat.participants}
    assert "Message sent to 2 participants." in await text(
        await staff_client.get(f"/chats/{chat.chat.public_id}")
    )


async def test_staff_message_to_one_participant_by_fetch(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    driver = next(p for p in chat.participants if p.name == "Driver")
    response = await staff_client.post(
        f"/chats/{chat.chat.public_id}/messages",
        form={"body": "Only for you", "to": driver.public_id},
        headers={**await csrf_headers(staff_client), **JSON},
    )
    assert response.status_code == 201
    message_id = (await response.get_json())["message_id"]
    [message] = await rows_of(app_runtime, Message, col(Message.public_id) == message_id)
    sent = await rows_of(app_runtime, Delivery, col(Delivery.message_id) == message.id)
    assert [d.to_number for d in sent] == [DRIVER]


async def test_staff_message_errors_keep_what_was_typed(
    staff_client: Client, chat: ChatView
) -> None:
    path = f"/chats/{chat.chat.public_id}/messages"
    response = await csrf_post(staff_client, path, {"body": "   ", "to": "all"})
    html = await text(response)
    assert response.status_code == 422
    assert "The message is empty" in field_error(html, "body")
    assert 'aria-invalid="true"' in html

    typed = "A long note the writer would hate to type again. " * 20
    response = await csrf_post(staff_client, path, {"body": typed, "to": "pt_nobody"})
    html = await text(response)
    assert response.status_code == 404
    assert "has no participant" in field_error(html, "to")
    assert typed in html  # the typed text is still there to fix and resend

    response = await csrf_post(staff_client, path, {"body": "x" * 1601, "to": "all"})
    assert response.status_code == 422
    assert "at most 1600" in field_error(await text(response), "body")

    response = await staff_client.post(
        path, form={"body": ""}, headers={**await csrf_headers(staff_client), **JSON}
    )
    assert response.status_code == 422
    assert (await response.get_json())["error"]["fields"]["body"].startswith("The message is empty")


async def test_close_with_goodbye(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    path = f"/chats/{chat.chat.public_id}"
    response = await csrf_post(staff_client, f"{path}/close", {"goodbye": "yes"})
    assert response.status_code == 303
    [stored] = await rows_of(app_runtime, Chat, col(Chat.id) == chat.chat.id)
    assert stored.status == ChatStatus.closed and stored.close_reason == "staff"
    goodbyes = await rows_of(app_runtime, Delivery, col(Delivery.kind) == DeliveryKind.goodbye)
    assert len(goodbyes) == 2
    html = await text(await staff_client.get(path))
    assert "Chat closed" in html and "This chat was closed by staff" in html
    assert 'id="composer"' not in html and "Close chat…" not in html
    assert all(not p.active for p in await rows_of(app_runtime, Participant))

    again = await csrf_post(staff_client, f"{path}/close", {"goodbye": "yes"})
    assert again.status_code == 303
    assert "already closed" in await text(await staff_client.get(path))
    after_close = await csrf_post(staff_client, f"{path}/messages", {"body": "Too late"})
    assert after_close.status_code == 409
    assert re.search(r'role="alert"><p>Chat \S+ is closed', await text(after_close))


async def test_close_without_goodbye(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await csrf_post(staff_client, f"/chats/{chat.chat.public_id}/close", {})
    [stored] = await rows_of(app_runtime, Chat, col(Chat.id) == chat.chat.id)
    assert stored.status == ChatStatus.closed
    assert await rows_of(app_runtime, Delivery, col(Delivery.kind) == DeliveryKind.goodbye) == []


# New chat


def new_chat_form(**fields: str) -> dict[str, str]:
    form = {
        "rows": "2",
        "participants-0-number": "+44 7700 900001",
        "participants-0-name": "Rider",
        "participants-1-number": "07700 900002",
        "participants-1-name": "Driver",
        "reference": "BK-7",
        "ttl": "3600",
        "intro": "yes",
        "action": "create",
    }
    form.update(fields)
    return form


async def test_new_chat_form_works_without_javascript(staff_client: Client) -> None:
    html = await text(await staff_client.get("/chats/new"))
    assert 'name="participants-0-number"' in html and 'name="participants-1-number"' in html
    assert 'name="participants-2-number"' not in html
    assert 'value="add"' in html and 'name="csrf_token"' in html

    response = await csrf_post(staff_client, "/chats/new", new_chat_form(action="add"))
    html = await text(response)
    assert response.status_code == 200
    assert 'name="participants-2-number"' in html
    assert 'value="+44 7700 900001"' in html and 'value="BK-7"' in html

    form = new_chat_form(action="remove-0", rows="3")
    form["participants-2-number"] = "+447700900003"
    html = await text(await csrf_post(staff_client, "/chats/new", form))
    assert 'value="+44 7700 900001"' not in html
    assert 'value="07700 900002"' in html and 'value="+447700900003"' in html
    assert 'name="participants-2-number"' not in html


async def test_new_chat_creates_and_redirects(app_runtime: Runtime, staff_client: Client) -> None:
    await add_numbers(app_runtime, P1)
    app_runtime.settings.default_region = "GB"
    response = await csrf_post(staff_client, "/chats/new", new_chat_form())
    assert response.status_code == 303
    [stored] = await rows_of(app_runtime, Chat)
    assert response.headers["Location"] == f"/chats/{stored.public_id}"
    assert stored.reference == "BK-7" and stored.idle_ttl_seconds == 3600
    people = await rows_of(app_runtime, Participant)
    assert sorted((p.real_number, p.name) for p in people) == [(RIDER, "Rider"), (DRIVER, "Driver")]
    assert await rows_of(app_runtime, Delivery, col(Delivery.kind) == DeliveryKind.intro)


async def test_new_chat_expiry_in_the_browsers_time_zone(
    app_runtime: Runtime, staff_client: Client
) -> None:
    await add_numbers(app_runtime, P1)
    local = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    tokyo = local + timedelta(hours=9)
    form = new_chat_form(
        ttl="",
        expires_at=tokyo.strftime("%Y-%m-%dT%H:%M"),
        tz_offset="-540",  # what getTimezoneOffset() says in Tokyo
    )
    form["participants-1-number"] = DRIVER
    assert (await csrf_post(staff_client, "/chats/new", form)).status_code == 303
    [stored] = await rows_of(app_runtime, Chat)
    assert stored.expires_at == local and stored.idle_ttl_seconds is None


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"participants-1-number": "07700 900OO2"}, "participants-1-number", "not part of a phone"),
        ({"participants-1-number": "+447700900001"}, "participants-1-number", "same number"),
        (
            {"participants-0-number": "", "participants-0-name": ""},
            "participants-0-number",
            "Enter participant 1",
        ),
        ({"ttl": "12"}, "ttl", "Choose one of the idle limits"),
        ({"expires_at": "tomorrow"}, "expires_at", "Enter a date and time"),
        ({"expires_at": "2001-01-01T10:00"}, "expires_at", "in the past"),
        ({"reference": "r" * 201}, "reference", "longer than 200"),
    ],
)
async def test_new_chat_errors_sit_next_to_their_field(
    app_runtime: Runtime,
    staff_client: Client,
    fields: dict[str, str],
    field_id: str,
    message: str,
) -> None:
    await add_numbers(app_runtime, P1)
    form = new_chat_form(**fields)
    form["participants-1-number"] = fields.get("participants-1-number", DRIVER)
    response = await csrf_post(staff_client, "/chats/new", form)
    html = await text(response)
    assert response.status_code == 422
    assert message in field_error(html, field_id)
    assert f'id="{field_id}"' in html
    assert 'value="Driver"' in html  # what was typed stays
    assert await rows_of(app_runtime, Chat) == []
    assert_masked(html.replace(form["participants-1-number"], ""))


async def test_new_chat_without_numbers_in_the_pool(staff_client: Client) -> None:
    form = new_chat_form()
    form["participants-1-number"] = DRIVER
    response = await csrf_post(staff_client, "/chats/new", form)
    html = await text(response)
    assert response.status_code == 409
    assert "no enabled proxy numbers" in html and 'role="alert"' in html


async def test_start_a_chat_from_an_unrouted_sms(
    app_runtime: Runtime, staff_client: Client
) -> None:
    await add_numbers(app_runtime, P1)
    await text_from_handset(app_runtime.db, app_runtime.routing, STRANGER, P1, "Hello? Anyone?")
    unrouted = await text(await staff_client.get("/unrouted"))
    [message] = await rows_of(app_runtime, Message, col(Message.author_kind) == "unrouted")
    link = f"/chats/new?from={message.public_id}"
    assert f'href="{link}"' in unrouted
    assert "Hello? Anyone?" in unrouted and "+44770•••••99" in unrouted
    assert_masked(unrouted)

    page = await text(await staff_client.get(link))
    assert "+44770•••••99" in page and f'value="{message.public_id}"' in page
    assert_masked(page)

    form = new_chat_form()
    del form["participants-0-number"]
    form["participants-0-source"] = message.public_id
    form["participants-0-name"] = "Caller"
    form["participants-1-number"] = DRIVER
    response = await csrf_post(staff_client, "/chats/new", form)
    assert response.status_code == 303
    people = await rows_of(app_runtime, Participant)
    assert sorted(p.real_number for p in people) == [DRIVER, STRANGER]


# Numbers


async def test_numbers_page_shows_load(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    html = await text(await staff_client.get("/numbers"))
    assert P1 in html and P2 in html
    assert "Add a proxy number" in html and "Disable" in html
    assert re.search(r'<td class="num">1</td>', html)
    assert "2 active routes" in html
    assert_masked(html)


async def test_admin_adds_a_number(staff_client: Client, app_runtime: Runtime) -> None:
    response = await csrf_post(
        staff_client, "/numbers", {"number": "+44 7700 900901", "label": "UK"}
    )
    assert response.status_code == 303
    html = await text(await staff_client.get("/numbers"))
    assert f"{P1} added to the pool." in html and "GB · UK" in html

    duplicate = await csrf_post(staff_client, "/numbers", {"number": P1, "label": "again"})
    html = await text(duplicate)
    assert duplicate.status_code == 409
    assert "already in the pool" in field_error(html, "number") and 'value="again"' in html

    bad = await csrf_post(staff_client, "/numbers", {"number": "12", "label": ""})
    html = await text(bad)
    assert bad.status_code == 422 and 'value="12"' in html
    assert field_error(html, "number")


async def test_admin_disables_enables_and_removes(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    busy = chat.participants[0].proxy_number
    response = await csrf_post(staff_client, f"/numbers/{busy}/enabled", {"enabled": "no"})
    assert response.status_code == 303
    html = await text(await staff_client.get("/numbers"))
    assert f"{busy} is disabled" in html and "Enable" in html

    refused = await csrf_post(staff_client, f"/numbers/{busy}/remove", {})
    html = await text(refused)
    assert refused.status_code == 409
    assert re.search(r'class="row-error".*carries 1 active chat', html, re.S)

    await csrf_post(staff_client, f"/numbers/{busy}/enabled", {"enabled": "yes"})
    free = P2 if busy == P1 else P1
    assert (await csrf_post(staff_client, f"/numbers/{free}/remove", {})).status_code == 303
    html = await text(await staff_client.get("/numbers"))
    assert f"{free} removed from the pool." in html
    assert f'id="number-{free[1:]}"' not in html

    unknown = await csrf_post(staff_client, "/numbers/+447700900777/remove", {})
    assert unknown.status_code == 404 and "is not in the pool" in await text(unknown)


async def test_agents_see_numbers_but_cannot_change_them(
    agent_client: Client, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    html = await text(await agent_client.get("/numbers"))
    assert P1 in html and "Only administrators" in html
    assert 'action="/numbers"' not in html and "Disable" not in html
    for path, form in [
        ("/numbers", {"number": P2}),
        (f"/numbers/{P1}/enabled", {"enabled": "no"}),
        (f"/numbers/{P1}/remove", {}),
    ]:
        response = await csrf_post(agent_client, path, form)
        assert response.status_code == 403, path
    [number] = await rows_of(app_runtime, ProxyNumber)
    assert number.enabled


# Unrouted


async def test_unrouted_inbox(staff_client: Client, app_runtime: Runtime) -> None:
    empty = await text(await staff_client.get("/unrouted"))
    assert "Nothing unrouted" in empty
    await add_numbers(app_runtime, P1)
    await text_from_handset(app_runtime.db, app_runtime.routing, STRANGER, P1, "Earlier text")
    await text_from_handset(app_runtime.db, app_runtime.routing, STRANGER, P1, "Later text")
    html = await text(await staff_client.get("/unrouted"))
    assert html.index("Later text") < html.index("Earlier text")  # newest first
    assert P1 in html and 'data-live-list="unrouted"' in html
    assert_masked(html)
    [message] = await rows_of(app_runtime, Message, col(Message.body) == "Later text")
    row = await staff_client.get(f"/unrouted/{message.public_id}/row")
    assert row.status_code == 200 and "Later text" in await text(row)
    assert_masked(await text(row))
    assert (await staff_client.get("/unrouted/msg_nothing/row")).status_code == 404


async def test_an_alphanumeric_sender_shows_as_sent_and_offers_no_chat(
    staff_client: Client, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    await text_from_handset(app_runtime.db, app_runtime.routing, STRANGER, P1, "From a person")
    async with app_runtime.db.transaction() as session:
        await receive_sms(
            session, InboundSms("MyBank", P1, "BANK1", "From a bank"), RoutingOptions()
        )
    [bank] = await rows_of(app_runtime, Message, col(Message.body) == "From a bank")

    html = await text(await staff_client.get("/unrouted"))
    row = await text(await staff_client.get(f"/unrouted/{bank.public_id}/row"))

    assert ">MyBank<" in row and "Start a chat" not in row and "/chats/new" not in row
    assert html.count("/chats/new?from=") == 1 and "+44770•••••99" in html and ">MyBank<" in html
    assert_masked(html)


# Sandbox


async def test_sandbox_phones_text_into_a_chat(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    html = await text(await staff_client.get("/sandbox"))
    # Simulated phones are fake: the one page that shows their numbers in full.
    assert f'data-phone="{RIDER}"' in html and f'data-phone="{DRIVER}"' in html
    rider_proxy = next(p.proxy_number for p in chat.participants if p.real_number == RIDER)
    response = await csrf_post(
        staff_client,
        f"/sandbox/phones/{RIDER}/sms",
        {"proxy": rider_proxy, "text": "From the phone"},
    )
    assert response.status_code == 303
    [message] = await rows_of(app_runtime, Message, col(Message.body) == "From the phone")
    assert message.chat_id == chat.chat.id
    assert "Delivered into its chat" in await text(await staff_client.get("/sandbox"))


async def test_sandbox_errors_and_new_phones(staff_client: Client, app_runtime: Runtime) -> None:
    await add_numbers(app_runtime, P1)
    missing = await staff_client.post(
        f"/sandbox/phones/{STRANGER}/sms",
        form={"proxy": "", "text": "hi"},
        headers={**await csrf_headers(staff_client), **JSON},
    )
    assert missing.status_code == 422
    assert "Choose the proxy number" in (await missing.get_json())["error"]["fields"]["proxy"]

    bad = await csrf_post(staff_client, "/sandbox/phones", {"number": "not a number"})
    html = await text(bad)
    assert bad.status_code == 422
    assert "not part of a phone number" in field_error(html, "number")

    added = await csrf_post(staff_client, "/sandbox/phones", {"number": "+447700900555"})
    assert added.status_code == 303
    html = await text(await staff_client.get("/sandbox"))
    assert 'data-phone="+447700900555"' in html

    first = await csrf_post(
        staff_client, "/sandbox/phones", {"number": STRANGER, "proxy": P1, "text": "Hi there"}
    )
    assert first.status_code == 303
    html = await text(await staff_client.get("/sandbox"))
    assert "No active chat for this phone" in html and "Hi there" in html
    phones = await text(await staff_client.get("/sandbox/phones"))
    assert "<html" not in phones and f'data-phone="{STRANGER}"' in phones

    wrong = await csrf_post(
        staff_client, f"/sandbox/phones/{STRANGER}/sms", {"proxy": "x1", "text": "Kept"}
    )
    html = await text(wrong)
    assert wrong.status_code == 422
    assert "not part of a phone number" in field_error(html, "proxy")
    assert ">Kept</textarea>" in html


async def test_no_sandbox_with_a_real_carrier(database_url: str) -> None:
    settings = make_settings(
        database_url, carrier="vonage", vonage_api_key="key", vonage_api_secret="secret"
    )
    app = create_app(settings, background=False)
    async with app.test_app():
        client = await logged_in_client(app, "test-admin", "admin")
        response = await client.get("/sandbox")
        assert response.status_code == 404
        assert (await client.get("/sandbox/phones")).status_code == 404
        assert (await csrf_post(client, "/sandbox/phones", {"number": RIDER})).status_code == 404


# API keys


async def test_api_key_is_shown_once(staff_client: Client, app_runtime: Runtime) -> None:
    response = await csrf_post(staff_client, "/api-keys", {"name": "Booking service"})
    html = await text(response)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    key = re.search(r'value="(spx_[^"]+)"', html)
    assert key and "will not be shown again" in html
    listing = await text(await staff_client.get("/api-keys"))
    assert key.group(1) not in listing
    assert "Booking service" in listing and key.group(1)[:12] + "…" in listing
    assert "Never" in listing and "Active" in listing

    assert (await keys.check_key(app_runtime.db, key.group(1))) is not None
    listing = await text(await staff_client.get("/api-keys"))
    assert "Never" not in listing and key.group(1) not in listing


async def test_api_key_errors_and_revocation(staff_client: Client, app_runtime: Runtime) -> None:
    blank = await csrf_post(staff_client, "/api-keys", {"name": "  "})
    assert blank.status_code == 422
    assert "needs a name" in field_error(await text(blank), "name")

    await csrf_post(staff_client, "/api-keys", {"name": "Old integration"})
    [record] = await rows_of(app_runtime, ApiKey)
    response = await csrf_post(staff_client, f"/api-keys/{record.id}/revoke", {})
    assert response.status_code == 303
    html = await text(await staff_client.get("/api-keys"))
    assert "is revoked" in html and "Revoked" in html
    [record] = await rows_of(app_runtime, ApiKey)
    assert record.revoked_at is not None
    again = await csrf_post(staff_client, f"/api-keys/{record.id}/revoke", {})
    assert again.status_code == 303
    assert "No active API key" in await text(await staff_client.get("/api-keys"))


async def test_agents_cannot_manage_api_keys(agent_client: Client, app_runtime: Runtime) -> None:
    assert (await agent_client.get("/api-keys")).status_code == 403
    assert (await csrf_post(agent_client, "/api-keys", {"name": "sneaky"})).status_code == 403
    assert await rows_of(app_runtime, ApiKey) == []


# Cross-cutting: CSRF on every form


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/chats/new", {"action": "create"}),
        ("/chats/{chat}/messages", {"body": "hi"}),
        ("/chats/{chat}/close", {"goodbye": "yes"}),
        ("/chats/{chat}/read", {}),
        ("/numbers", {"number": "+447700900903"}),
        (f"/numbers/{P1}/enabled", {"enabled": "no"}),
        (f"/numbers/{P1}/remove", {}),
        ("/sandbox/phones", {"number": "+447700900555"}),
        (f"/sandbox/phones/{RIDER}/sms", {"proxy": P1, "text": "hi"}),
        ("/api-keys", {"name": "csrf"}),
        ("/api-keys/1/revoke", {}),
    ],
)
async def test_every_form_needs_the_csrf_token(
    staff_client: Client, app_runtime: Runtime, chat: ChatView, path: str, form: dict[str, str]
) -> None:
    async with app_runtime.db.transaction() as session:
        await keys.create_key(session, "existing", actor="tests")
    path = path.format(chat=chat.chat.public_id)
    await staff_client.get("/chats")  # the session has a token; the form just lacks it
    response = await staff_client.post(path, form=form, headers={"Origin": "http://localhost"})
    assert response.status_code == 403, path
    [stored] = await rows_of(app_runtime, Chat)
    assert stored.status == ChatStatus.active
    assert len(await rows_of(app_runtime, Message)) == 1  # the intro only
    assert len(await rows_of(app_runtime, ApiKey)) == 1

"""One chat: the transcript as bubbles, delivery states, staff messages, closing."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client
from sqlmodel import col, select

from smsproxy.models import (
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    Participant,
)
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_headers, csrf_post
from tests.helpers import add_numbers, start_chat
from tests.web.dashboard.pages import (
    DRIVER,
    JSON,
    P1,
    P2,
    RIDER,
    assert_masked,
    bubble,
    delivery_rows,
    field_error,
    reply,
    rows_of,
    text,
)


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
    intro = bubble(html, "Hello Rider")
    assert 'class="bubble from-system"' in intro and "Intro" in intro
    # What each person received ("Hello {name}"), not the one text nobody got ("Hello ").
    assert '<span class="recipient-name">Rider</span>:</span> Hello Rider</p>' in intro
    assert '<span class="recipient-name">Driver</span>:</span> Hello Driver</p>' in intro
    assert '<div class="bubble-body">Hello </div>' not in intro
    rider = bubble(html, "Hi from the rider")
    assert 'class="bubble from-p0"' in rider and "Rider" in rider
    assert delivery_rows(rider) == [(["Driver"], "queued")]
    assert "Sent as" not in rider  # two people: forwarded as written
    assert 'class="bubble from-p1"' in bubble(html, "Hi from the driver")
    staff = bubble(html, "Staff note")
    assert 'class="bubble from-staff"' in staff and '<span class="who">test-admin</span>' in staff
    # Two SMS in the same state: one row that names both.
    assert delivery_rows(staff) == [(["Rider", "Driver"], "queued")]
    assert delivery_rows(intro) == [(["Rider", "Driver"], "queued")]
    assert html.count('data-role="status" data-status="queued">Queued') == 4
    assert 'data-format="clock"' in staff
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
    at = html.index(f'data-delivery-id="{delivery.public_id}"')
    item = html[html.rindex("<li", 0, at) : html.index("</li>", at)]
    assert ">Driver</span>" in item and 'data-status="failed">Failed' in item
    assert "Carrier refused: number barred" in item and " hidden" not in item


async def test_message_fragment(staff_client: Client, app_runtime: Runtime, chat: ChatView) -> None:
    await reply(app_runtime, chat, DRIVER, "fragment me")
    [message] = await rows_of(app_runtime, Message, col(Message.body) == "fragment me")
    response = await staff_client.get(f"/chats/{chat.chat.public_id}/messages/{message.public_id}")
    html = await text(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith("<article") and "fragment me" in html
    assert "from-p1" in html and delivery_rows(html) == [(["Rider"], "queued")]
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


async def test_a_group_message_shows_what_its_sms_said(
    staff_client: Client, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1, P2)
    view = await start_chat(
        app_runtime, (RIDER, "Rider"), (DRIVER, "Driver"), ("+447700900003", "Dispatch")
    )
    await reply(app_runtime, view, RIDER, "Running late")
    html = await text(await staff_client.get(f"/chats/{view.chat.public_id}"))
    sent = bubble(html, "Running late")
    assert '<div class="bubble-body">Running late</div>' in sent
    assert '<p class="sent-as">Sent as “Rider: Running late”</p>' in sent
    assert delivery_rows(sent) == [(["Driver", "Dispatch"], "queued")]

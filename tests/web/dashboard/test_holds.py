"""Screened texts on the chat page: what staff see, and the held text's two buttons."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from smsproxy.config import Settings
from smsproxy.models import AuditEvent, Delivery, Message, Screening
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_headers, csrf_post, make_settings
from tests.web.dashboard.pages import (
    DRIVER,
    JSON,
    RIDER,
    assert_masked,
    bubble,
    reply,
    rows_of,
    text,
)

LEAK = "text me on 07911 123456 instead"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, contact_policy="hold")


async def held(rt: Runtime, chat: ChatView) -> Message:
    await reply(rt, chat, RIDER, LEAK)
    [message] = await rows_of(rt, Message, Message.body == LEAK)
    assert message.screening == Screening.held
    return message


async def forwards(rt: Runtime, message: Message) -> list[Delivery]:
    return await rows_of(rt, Delivery, Delivery.message_id == message.id)


async def test_a_held_text_shows_what_was_found_and_offers_a_decision(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    message = await held(app_runtime, chat)

    html = await text(await staff_client.get(f"/chats/{chat.chat.public_id}"))

    shown = bubble(html, LEAK)
    assert "Held:</strong> it contains a phone number." in shown
    base = f"/chats/{chat.chat.public_id}/messages/{message.public_id}"
    assert f'action="{base}/release"' in shown and f'action="{base}/reject"' in shown
    assert "Not forwarded: nobody else" not in shown


async def test_an_agent_releases_it_and_it_is_forwarded(
    agent_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    message = await held(app_runtime, chat)
    base = f"/chats/{chat.chat.public_id}/messages/{message.public_id}"

    response = await csrf_post(agent_client, f"{base}/release")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/chats/{chat.chat.public_id}"
    [delivery] = await forwards(app_runtime, message)
    assert (delivery.to_number, delivery.body) == (DRIVER, LEAK)
    [audit] = await rows_of(app_runtime, AuditEvent, AuditEvent.action == "message.release")
    assert audit.actor == "staff:test-agent"
    html = await text(await agent_client.get(f"/chats/{chat.chat.public_id}"))
    assert "Released</strong> by staff" in bubble(html, LEAK)
    assert "Released: forwarded to 1 participant." in html


async def test_reject_keeps_it_from_everyone(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    message = await held(app_runtime, chat)
    base = f"/chats/{chat.chat.public_id}/messages/{message.public_id}"

    rejected = await csrf_post(staff_client, f"{base}/reject", headers=JSON)
    late = await staff_client.post(
        f"{base}/release", headers={**JSON, **await csrf_headers(staff_client)}
    )

    assert rejected.status_code == 200
    assert late.status_code == 409
    assert "already rejected" in (await late.get_json())["error"]["message"]
    assert await forwards(app_runtime, message) == []


async def test_the_bubble_fragment_shows_the_decision(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    """What the live script fetches when another browser decided."""
    message = await held(app_runtime, chat)
    base = f"/chats/{chat.chat.public_id}/messages/{message.public_id}"
    await csrf_post(staff_client, f"{base}/reject")

    fragment = await text(await staff_client.get(base))

    assert "Rejected</strong> by staff: never forwarded" in fragment
    assert "/release" not in fragment
    assert_masked(fragment)


async def test_a_cut_text_says_so(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, "x" * 2000)

    html = await text(await staff_client.get(f"/chats/{chat.chat.public_id}"))

    assert "Only the first 1600 of its 2000 characters were forwarded." in html

"""Creating a chat from the dashboard, with and without scripts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from quart.typing import TestClientProtocol as Client
from sqlmodel import col

from smsproxy.models import (
    Chat,
    Delivery,
    DeliveryKind,
    Message,
    Participant,
)
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.helpers import add_numbers
from tests.web.dashboard.pages import (
    DRIVER,
    P1,
    RIDER,
    STRANGER,
    assert_masked,
    field_error,
    rows_of,
    text,
)


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


async def test_the_form_says_names_are_sent_to_the_others(staff_client: Client) -> None:
    html = await text(await staff_client.get("/chats/new"))
    assert (
        '<p class="hint names-hint" id="names-hint"><strong>Names are sent to the others:' in html
    )
    for row in (0, 1):
        name_input = re.search(rf'<input id="participants-{row}-name"[^>]*>', html)
        assert name_input and 'aria-describedby="names-hint"' in name_input.group(0)


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

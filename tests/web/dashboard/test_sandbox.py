"""The sandbox page: simulated phones texting into chats."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client
from sqlmodel import col

from smsproxy.app import create_app
from smsproxy.models import (
    Message,
)
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.conftest import csrf_headers, csrf_post, logged_in_client, make_settings
from tests.helpers import add_numbers, start_chat
from tests.web.dashboard.pages import (
    DRIVER,
    JSON,
    P1,
    RIDER,
    STRANGER,
    field_error,
    rows_of,
    text,
)


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


async def test_phones_are_paged_searched_and_named(
    staff_client: Client, app_runtime: Runtime
) -> None:
    from smsproxy.carrier.handsets import PAGE_SIZE

    await add_numbers(app_runtime, P1)
    pairs = PAGE_SIZE // 2 + 2  # more phones than one page holds
    for n in range(pairs):
        await start_chat(
            app_runtime, (f"+4477009003{n:02d}", f"Rider {n}"), (f"+4477009004{n:02d}", f"Cab {n}")
        )
    html = await text(await staff_client.get("/sandbox"))
    assert html.count('class="phone card"') == PAGE_SIZE
    assert f"{2 * pairs} phones, most recently active first · page 1 of 2" in html
    assert 'href="/sandbox?page=2">Next →' in html
    # Labelled by the names they have in their chats.
    last = pairs - 1
    assert f'<span class="phone-name">Rider {last}</span> <span class="mono phone-number">' in html

    second = await text(await staff_client.get("/sandbox?page=2"))
    assert second.count('class="phone card"') == 4 and 'href="/sandbox">← Previous' in second

    found = await staff_client.get("/sandbox", query_string={"q": "cab 3"})
    found_html = await text(found)
    assert (
        found_html.count('class="phone card"') == 1 and 'data-phone="+447700900403"' in found_html
    )
    assert "1 phone matches “cab 3”" in found_html
    fragment = await text(await staff_client.get("/sandbox/phones", query_string={"q": "cab 3"}))
    assert fragment.count('class="phone card"') == 1
    none = await text(await staff_client.get("/sandbox", query_string={"q": "zebra"}))
    assert "No phone matches “zebra”" in none

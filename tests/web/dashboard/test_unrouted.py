"""SMS that reached a number with no chat, as staff see them and deal with them."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client
from sqlmodel import col, select

from smsproxy import events
from smsproxy.carrier import InboundSms
from smsproxy.models import EventRecord, Message
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.routing import RoutingOptions
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.helpers import add_numbers
from tests.web.dashboard.pages import (
    P1,
    P2,
    STRANGER,
    assert_masked,
    rows_of,
    text,
)


async def test_unrouted_inbox(staff_client: Client, app_runtime: Runtime) -> None:
    empty = await text(await staff_client.get("/unrouted"))
    assert "Nothing waiting" in empty
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


async def strays(rt: Runtime, *bodies: str) -> list[Message]:
    await add_numbers(rt, P1, P2)
    for body in bodies:
        await text_from_handset(rt.db, rt.routing, STRANGER, P1, body)
    return await rows_of(rt, Message, col(Message.chat_id).is_(None))


def nav_count(html: str) -> str | None:
    """The number beside "Unrouted" in the navigation, or None when it is hidden."""
    found = re.search(
        r'data-nav-count="unrouted"[^>]*?( hidden)?><span data-role="number">([^<]*)</span>', html
    )
    assert found, "no count in the navigation"
    return None if found.group(1) else found.group(2)


async def test_handled_and_dismissed_leave_the_waiting_list(
    staff_client: Client, app_runtime: Runtime
) -> None:
    first, second, third = await strays(app_runtime, "Wrong number?", "Spam", "Still there?")
    page = await text(await staff_client.get("/unrouted"))
    assert nav_count(page) == "3"
    assert await (await staff_client.get("/unrouted/count")).get_json() == {
        "waiting": 3,
        "cap": 100,
    }

    handled = await csrf_post(
        staff_client, f"/unrouted/{first.public_id}/state", {"state": "handled"}
    )
    assert handled.status_code == 303 and handled.headers["Location"] == "/unrouted?view=waiting"
    await csrf_post(staff_client, f"/unrouted/{second.public_id}/state", {"state": "dismissed"})

    waiting = await text(await staff_client.get("/unrouted"))
    assert "Still there?" in waiting and "Wrong number?" not in waiting and "Spam" not in waiting
    assert nav_count(waiting) == "1"
    done = await text(await staff_client.get("/unrouted?view=handled"))
    assert "Wrong number?" in done and "by test-admin" in done and "Reopen" in done
    assert "Spam" in await text(await staff_client.get("/unrouted?view=dismissed"))
    row = await staff_client.get(f"/unrouted/{first.public_id}/row?view=waiting")
    assert row.status_code == 204  # the live script drops it from the waiting list

    await csrf_post(
        staff_client,
        f"/unrouted/{second.public_id}/state",
        {"state": "waiting", "view": "dismissed"},
    )
    assert "Spam" in await text(await staff_client.get("/unrouted"))
    bad = await csrf_post(staff_client, f"/unrouted/{third.public_id}/state", {"state": "gone"})
    assert bad.status_code == 303
    assert "state must be handled, dismissed or waiting" in await text(
        await staff_client.get("/unrouted")
    )
    assert (await staff_client.get("/unrouted?view=everything")).status_code == 400


async def test_a_chat_started_from_one_handles_it(
    staff_client: Client, app_runtime: Runtime
) -> None:
    [stray] = await strays(app_runtime, "Can I rebook?")
    created = await csrf_post(
        staff_client,
        "/chats/new",
        {
            "rows": "2",
            "participants-0-source": stray.public_id,
            "participants-0-name": "Caller",
            "participants-1-number": "+447700900003",
            "participants-1-name": "Agent desk",
            "action": "create",
        },
    )
    assert created.status_code == 303
    chat_id = created.headers["Location"].rsplit("/", 1)[1]
    [saved] = await rows_of(app_runtime, Message, col(Message.id) == stray.id)
    assert (saved.unrouted_state, saved.unrouted_chat, saved.unrouted_state_by) == (
        "handled",
        chat_id,
        "test-admin",
    )
    async with app_runtime.db.read() as session:
        told = (
            await session.exec(
                select(EventRecord).where(EventRecord.name == events.UnroutedUpdated.name)
            )
        ).one()
    assert told.payload["chat"] == chat_id
    page = await text(await staff_client.get("/unrouted?view=handled"))
    assert f'href="/chats/{chat_id}"' in page and "a chat was started from it" in page
    assert nav_count(page) is None

"""SMS that reached a number with no chat, as staff see them."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client
from sqlmodel import col

from smsproxy.carrier import InboundSms
from smsproxy.models import (
    Message,
)
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.routing import RoutingOptions
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers
from tests.web.dashboard.pages import (
    P1,
    STRANGER,
    assert_masked,
    rows_of,
    text,
)


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

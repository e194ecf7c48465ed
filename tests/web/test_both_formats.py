"""Both webhook formats at once: while an account switches between the SMS API and the
Messages API, one SMS may reach us in each format, under unrelated ids. It is recorded
and forwarded once; a person who really says the same thing twice is heard twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from sqlmodel import col, select

from smsproxy.app import create_app
from smsproxy.db import utcnow
from smsproxy.models import Delivery, InboundPart, Message
from smsproxy.proxy.multipart import flush_expired
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.messages_api import inbound_message
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
AT = datetime(2025, 2, 3, 12, 14, 25, tzinfo=UTC)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Quart]:
    # Unsigned webhooks: their signatures are tested with each format on its own.
    settings = make_settings(database_url, vonage_webhooks_unsigned="allow")
    value = create_app(settings, background=False)
    async with value.test_app():
        rt: Runtime = value.extensions["smsproxy"]
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        yield value


async def via_sms_api(
    app: Quart, message_id: str, text: str, at: datetime = AT, **extra: str
) -> None:
    fields = {
        "msisdn": ALICE[1:],
        "to": P1[1:],
        "messageId": message_id,
        "text": text,
        "type": "text",
        "message-timestamp": at.strftime("%Y-%m-%d %H:%M:%S"),
        **extra,
    }
    response = await app.test_client().post("/webhooks/inbound-sms", form=fields)
    assert response.status_code == 204, await response.get_data(as_text=True)


async def via_messages_api(app: Quart, message_uuid: str, text: str, at: datetime = AT) -> None:
    payload = inbound_message(
        message_uuid=message_uuid,
        text=text,
        timestamp=at.isoformat().replace("+00:00", "Z"),
        **{"from": ALICE[1:], "to": P1[1:]},
    )
    response = await app.test_client().post("/webhooks/inbound", json=payload)
    assert response.status_code == 204, await response.get_data(as_text=True)


async def recorded(app: Quart) -> tuple[list[str], list[str]]:
    """The messages' texts and the forwards' texts, in order."""
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        messages = (await session.exec(select(Message).order_by(col(Message.id)))).all()
        deliveries = (await session.exec(select(Delivery).order_by(col(Delivery.id)))).all()
    return [m.body for m in messages], [d.body for d in deliveries]


@pytest.mark.parametrize("sms_api_first", [True, False], ids=["sms-api-first", "messages-first"])
async def test_one_sms_in_both_formats_is_recorded_and_forwarded_once(
    app: Quart, sms_api_first: bool
) -> None:
    deliveries: list[Any] = [
        lambda: via_sms_api(app, "0B00000127FDBC63", "On my way"),
        # Vonage's second format dates it a few seconds apart, to the second or finer.
        lambda: via_messages_api(
            app, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", "On my way", AT + timedelta(seconds=3)
        ),
    ]
    if not sms_api_first:
        deliveries.reverse()

    for deliver in deliveries:
        await deliver()

    assert await recorded(app) == (["On my way"], ["On my way"])


async def test_the_same_text_twice_in_one_format_is_heard_twice(app: Quart) -> None:
    await via_sms_api(app, "0B0000000000000A", "ok")
    await via_sms_api(app, "0B0000000000000B", "ok", AT + timedelta(seconds=20))
    await via_messages_api(app, "aaaaaaaa-bbbb-4ccc-8ddd-00000000000a", "yes")
    await via_messages_api(app, "aaaaaaaa-bbbb-4ccc-8ddd-00000000000b", "yes")

    assert await recorded(app) == (["ok", "ok", "yes", "yes"], ["ok", "ok", "yes", "yes"])


@pytest.mark.parametrize(
    ("text", "later"),
    [
        ("On my way!", timedelta(seconds=3)),  # another text
        ("On my way", timedelta(minutes=11)),  # outside the window: said again
        ("On my way", -timedelta(minutes=11)),
    ],
    ids=["other-text", "later", "earlier"],
)
async def test_what_differs_is_not_a_twin(app: Quart, text: str, later: timedelta) -> None:
    await via_sms_api(app, "0B00000127FDBC63", "On my way")
    await via_messages_api(app, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", text, AT + later)

    messages, forwards = await recorded(app)
    assert messages == forwards == ["On my way", text]


async def test_a_long_sms_in_parts_then_whole_is_forwarded_once(app: Quart) -> None:
    first, second = "I am stuck behind a tractor on the B-road, ", "so I will be late."
    for number, text in ((1, first), (2, second)):
        concat = {"concat": "true", "concat-ref": "42", "concat-total": "2"}
        await via_sms_api(
            app, f"0B0000000000004{number}", text, **concat, **{"concat-part": str(number)}
        )
    await via_messages_api(
        app, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", first + second, AT + timedelta(seconds=1)
    )

    assert await recorded(app) == ([first + second], [first + second])


@pytest.mark.parametrize("part_first", [True, False], ids=["part-first", "whole-first"])
async def test_parts_of_a_long_sms_that_came_whole_are_not_flushed_as_a_fragment(
    app: Quart, part_first: bool
) -> None:
    """Part 1 came through the SMS API, then the account switched and the Messages API
    delivered the whole SMS: the stalled part is not forwarded after the timeout."""
    first, second = "I am stuck behind a tractor on the B-road, ", "so I will be late."
    concat = {"concat": "true", "concat-ref": "42", "concat-total": "2", "concat-part": "1"}
    steps = [
        lambda: via_sms_api(app, "0B00000000000041", first, **concat),
        lambda: via_messages_api(
            app, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", first + second, AT + timedelta(seconds=1)
        ),
    ]
    for step in steps if part_first else steps[::-1]:
        await step()
    rt: Runtime = app.extensions["smsproxy"]

    later = utcnow() + timedelta(minutes=5)
    flushed = await flush_expired(rt.db, rt.routing, timedelta(seconds=60), now=later)

    assert flushed == 0
    assert await recorded(app) == ([first + second], [first + second])
    async with rt.db.read() as session:
        [part] = (await session.exec(select(InboundPart))).all()
    assert part.forwarded_at == later  # settled: the flusher will not look at it again


async def test_a_stalled_part_the_other_format_did_not_bring_is_still_flushed(app: Quart) -> None:
    concat = {"concat": "true", "concat-ref": "42", "concat-total": "2", "concat-part": "1"}
    await via_sms_api(app, "0B00000000000041", "The gate code is 4512", **concat)
    await via_messages_api(app, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", "Something else")
    rt: Runtime = app.extensions["smsproxy"]

    later = utcnow() + timedelta(minutes=5)
    assert await flush_expired(rt.db, rt.routing, timedelta(seconds=60), now=later) == 1

    messages, _ = await recorded(app)
    assert messages == ["Something else", "The gate code is 4512[…]"]

"""Receipts in either of Vonage's formats, for an SMS sent through either API.

An SMS goes out through the real SDK to the fake Vonage (SMS API or Messages API), and
its receipts come back as SMS API delivery receipts (one per part, each under its own
message-id) or as Messages API statuses (one for the whole SMS, under its message_uuid),
whichever format the account is set to. Both carry our delivery id as client-ref.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart
from sqlmodel import select

from smsproxy.app import create_app
from smsproxy.carrier import SendResult
from smsproxy.models import CarrierMessage, Delivery, DeliveryStatus
from smsproxy.outbox.results import record_sent
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.messages_api import message_status
from tests.helpers import add_numbers, start_chat

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
SHORT = "Outside"
LONG = "Traffic on the ring road; I will be about ten minutes late. " * 4  # 2 parts


@pytest.fixture(params=["sms", "messages"])
async def sent_through(
    request: pytest.FixtureRequest, database_url: str, fake_vonage: FakeVonage
) -> AsyncIterator[tuple[Quart, str]]:
    """The app, sending through the SMS API or the Messages API (unsigned webhooks: the
    signatures of each format are tested on their own)."""
    api = request.param
    settings = make_settings(
        database_url,
        **{**fake_vonage.settings(api), "vonage_timeout_seconds": 2},
    )
    app = create_app(settings, background=False)
    async with app.test_app():
        rt: Runtime = app.extensions["smsproxy"]
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        yield app, api


async def forwarded(app: Quart, fake: FakeVonage, text: str) -> tuple[Delivery, list[str]]:
    rt: Runtime = app.extensions["smsproxy"]
    fields = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": "IN-1", "text": text}
    response = await app.test_client().post("/webhooks/inbound-sms", form=fields)
    assert response.status_code == 204
    await rt.sender.drain(timeout=5)
    [request] = fake.wait_for(1)
    delivery = await load(rt)
    assert delivery.status == DeliveryStatus.sent
    assert request.client_ref == delivery.public_id
    return delivery, request.message_ids


async def load(rt: Runtime) -> Delivery:
    async with rt.db.read() as session:
        return (await session.exec(select(Delivery))).one()


async def dlr(app: Quart, delivery: Delivery, message_id: str, status: str, **extra: str) -> None:
    """An SMS API delivery receipt for one part."""
    fields = {
        "msisdn": BOB[1:],
        "to": P1[1:],
        "messageId": message_id,
        "status": status,
        "err-code": "0",
        "client-ref": delivery.public_id,
        **extra,
    }
    response = await app.test_client().post("/webhooks/delivery-receipt", form=fields)
    assert response.status_code == 204


async def status(
    app: Quart, delivery: Delivery, message_uuid: str, word: str, **extra: Any
) -> None:
    """A Messages API status for the whole SMS."""
    payload = message_status(
        word, message_uuid=message_uuid, client_ref=delivery.public_id, **extra
    )
    response = await app.test_client().post("/webhooks/status", json=payload)
    assert response.status_code == 204


def part_ids(api: str, message_ids: list[str], parts: int) -> list[str]:
    """The ids SMS API receipts carry: the parts' own when the SMS API sent it, new ones
    (the SMS API under the Messages API) when the Messages API did."""
    if api == "sms":
        assert len(message_ids) == parts
        return message_ids
    return [f"0B0000000000000{n}" for n in range(1, parts + 1)]


def whole_id(api: str, message_ids: list[str]) -> str:
    """The id a Messages API status carries: the one the Messages API answered, or a
    uuid we never saw when the SMS API sent it."""
    return message_ids[0] if api == "messages" else str(uuid.uuid4())


@pytest.mark.parametrize("text", [SHORT, LONG], ids=["one-part", "two-parts"])
async def test_part_receipts_deliver_it_once_every_part_is_in(
    sent_through: tuple[Quart, str], fake_vonage: FakeVonage, text: str
) -> None:
    app, api = sent_through
    rt: Runtime = app.extensions["smsproxy"]
    delivery, message_ids = await forwarded(app, fake_vonage, text)
    parts = part_ids(api, message_ids, 2 if text == LONG else 1)

    for part in parts[:-1]:
        await dlr(app, delivery, part, "delivered")
        assert (await load(rt)).status == DeliveryStatus.sent  # a part is not the SMS
    await dlr(app, delivery, parts[-1], "accepted")
    assert (await load(rt)).status == DeliveryStatus.sent
    await dlr(app, delivery, parts[-1], "delivered")

    assert (await load(rt)).status == DeliveryStatus.delivered


async def test_a_failed_part_fails_it_with_the_reason(
    sent_through: tuple[Quart, str], fake_vonage: FakeVonage
) -> None:
    app, api = sent_through
    delivery, message_ids = await forwarded(app, fake_vonage, LONG)
    first, second = part_ids(api, message_ids, 2)

    await dlr(app, delivery, first, "delivered")
    await dlr(app, delivery, second, "failed", **{"err-code": "12"})

    after = await load(app.extensions["smsproxy"])
    assert (after.status, after.error_code) == (DeliveryStatus.failed, "12")
    assert "The destination is unreachable (error 12)" in (after.error or "")


@pytest.mark.parametrize("text", [SHORT, LONG], ids=["one-part", "two-parts"])
async def test_a_whole_message_status_delivers_it(
    sent_through: tuple[Quart, str], fake_vonage: FakeVonage, text: str
) -> None:
    app, api = sent_through
    rt: Runtime = app.extensions["smsproxy"]
    delivery, message_ids = await forwarded(app, fake_vonage, text)
    message_uuid = whole_id(api, message_ids)

    await status(app, delivery, message_uuid, "submitted")
    assert (await load(rt)).status == DeliveryStatus.sent
    await status(app, delivery, message_uuid, "delivered")

    assert (await load(rt)).status == DeliveryStatus.delivered


async def test_a_rejection_keeps_vonages_words(
    sent_through: tuple[Quart, str], fake_vonage: FakeVonage
) -> None:
    app, api = sent_through
    rt: Runtime = app.extensions["smsproxy"]
    delivery, message_ids = await forwarded(app, fake_vonage, LONG)
    message_uuid = whole_id(api, message_ids)
    error = {
        "type": "https://developer.vonage.com/api-errors/messages#1320",
        "title": 1320,
        "detail": "Message failed because the number 447700900102 is unreachable",
    }

    await status(app, delivery, message_uuid, "rejected", error=error)

    after = await load(rt)
    assert (after.status, after.error_code) == (DeliveryStatus.rejected, "1320")
    # Vonage's reason, the number masked; a whole-SMS status names no part.
    assert after.error == (
        "The carrier rejected the SMS: Message failed because the number "
        "+44770•••••02 is unreachable (error 1320)"
    )
    async with rt.db.read() as session:
        row = await session.get(CarrierMessage, message_uuid)
    assert row is not None and row.whole_message
    assert row.error_text == "Message failed because the number +44770•••••02 is unreachable"


async def test_receipts_in_both_formats_agree(
    sent_through: tuple[Quart, str], fake_vonage: FakeVonage
) -> None:
    """A switch half way through: some parts reported by the SMS API, then the whole by
    the Messages API. Nothing is counted twice, and the final word stays."""
    app, api = sent_through
    rt: Runtime = app.extensions["smsproxy"]
    delivery, message_ids = await forwarded(app, fake_vonage, LONG)
    first, _ = part_ids(api, message_ids, 2)

    await dlr(app, delivery, first, "delivered")
    assert (await load(rt)).status == DeliveryStatus.sent
    await status(app, delivery, whole_id(api, message_ids), "delivered")
    assert (await load(rt)).status == DeliveryStatus.delivered
    await dlr(app, delivery, first, "failed", **{"err-code": "1"})  # a late contradiction

    assert (await load(rt)).status == DeliveryStatus.delivered


async def test_part_receipts_before_a_whole_send_is_recorded(database_url: str) -> None:
    """The SMS API's receipts for an SMS the Messages API sent, before the sender has
    recorded the message_uuid: they wait until the sender says it went whole."""
    app = create_app(make_settings(database_url), background=False)
    async with app.test_app():
        rt: Runtime = app.extensions["smsproxy"]
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        fields = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": "IN-1", "text": LONG}
        await app.test_client().post("/webhooks/inbound-sms", form=fields)
        delivery = await load(rt)

        await dlr(app, delivery, "0B01", "delivered")
        await dlr(app, delivery, "0B02", "delivered")
        assert (await load(rt)).status == DeliveryStatus.queued
        result = SendResult(message_ids=[str(uuid.uuid4())], whole_message=True)
        async with rt.db.transaction() as session:
            recorded = await record_sent(session, delivery, result)

    assert recorded == DeliveryStatus.delivered

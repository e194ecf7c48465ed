"""Delivery receipts: an inbound SMS forwarded through the real SDK to the fake Vonage,
then Vonage's receipts for its parts posted to the webhook."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart
from sqlmodel import select

from smsproxy.carrier import SendResult
from smsproxy.config import Settings
from smsproxy.models import CarrierMessage, Delivery, DeliveryStatus
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import add_numbers, delivery_statuses, start_chat

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
RECEIPT = "/webhooks/delivery-receipt"
LONG_TEXT = "Traffic on the ring road; I will be about ten minutes late. " * 4  # 2 parts


@pytest.fixture
def settings(database_url: str, fake_vonage: FakeVonage) -> Settings:
    return make_settings(database_url, **fake_vonage.settings(), vonage_timeout_seconds=2)


async def forwarded(app: Quart, fake: FakeVonage, text: str) -> tuple[Delivery, list[str]]:
    """Alice texts Bob through the webhook; the sender sends it to the fake Vonage."""
    rt: Runtime = app.extensions["smsproxy"]
    await add_numbers(rt, P1)
    await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
    response = await app.test_client().post(
        "/webhooks/inbound-sms",
        form={"msisdn": ALICE[1:], "to": P1[1:], "messageId": "IN-1", "text": text},
    )
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


async def receipt(app: Quart, message_id: str, status: str, how: str = "form", **extra: str) -> Any:
    fields = {
        "msisdn": BOB[1:],
        "to": P1[1:],
        "network-code": "23410",
        "messageId": message_id,
        "price": "0.03330000",
        "status": status,
        "scts": "2501011200",
        "err-code": "0",
        "message-timestamp": "2025-01-01 12:00:00",
        **extra,
    }
    client = app.test_client()
    if how == "get":
        return await client.get(RECEIPT, query_string=fields)
    if how == "json":
        return await client.post(RECEIPT, json=fields)
    return await client.post(RECEIPT, form=fields)


@pytest.mark.parametrize("how", ["get", "form", "json"])
async def test_delivered(
    app: Quart, app_runtime: Runtime, fake_vonage: FakeVonage, how: str
) -> None:
    delivery, [message_id] = await forwarded(app, fake_vonage, "Outside")

    response = await receipt(app, message_id, "delivered", how)

    assert response.status_code == 204
    assert (await load(app_runtime)).status == DeliveryStatus.delivered
    assert await delivery_statuses(app_runtime, delivery) == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]


async def test_failed_with_its_error_code(
    app: Quart, app_runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    _, [message_id] = await forwarded(app, fake_vonage, "Outside")

    await receipt(app, message_id, "failed", **{"err-code": "6"})

    delivery = await load(app_runtime)
    assert delivery.status == DeliveryStatus.failed
    assert delivery.error_code == "6"
    assert "spam" in (delivery.error or "") and "error 6" in (delivery.error or "")
    async with app_runtime.db.read() as session:
        part = await session.get(CarrierMessage, message_id)
    assert part is not None and (part.status, part.error_code) == ("failed", "6")


async def test_a_final_word_is_never_taken_back(
    app: Quart, app_runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    _, [message_id] = await forwarded(app, fake_vonage, "Outside")

    for status in ("accepted", "delivered", "buffered", "failed", "unknown"):
        assert (await receipt(app, message_id, status)).status_code == 204

    assert (await load(app_runtime)).status == DeliveryStatus.delivered


async def test_intermediate_statuses_leave_it_sent(
    app: Quart, app_runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    _, [message_id] = await forwarded(app, fake_vonage, "Outside")
    for status in ("accepted", "buffered", "something-new"):
        await receipt(app, message_id, status)
    assert (await load(app_runtime)).status == DeliveryStatus.sent


async def test_a_multipart_sms_is_delivered_when_every_part_is(
    app: Quart, app_runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    _, message_ids = await forwarded(app, fake_vonage, LONG_TEXT)
    assert len(message_ids) == 2

    await receipt(app, message_ids[1], "delivered")
    assert (await load(app_runtime)).status == DeliveryStatus.sent
    await receipt(app, message_ids[0], "delivered")

    assert (await load(app_runtime)).status == DeliveryStatus.delivered


async def test_a_multipart_sms_fails_when_any_part_does(
    app: Quart, app_runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    _, message_ids = await forwarded(app, fake_vonage, LONG_TEXT)

    await receipt(app, message_ids[0], "delivered")
    await receipt(app, message_ids[1], "expired", **{"err-code": "2"})

    delivery = await load(app_runtime)
    assert delivery.status == DeliveryStatus.expired
    assert delivery.error_code == "2" and "2 parts" in (delivery.error or "")


async def test_a_receipt_for_an_unknown_message_is_accepted_quietly(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smsproxy")

    response = await receipt(app, "NOT-OURS-1", "delivered")

    assert response.status_code == 204
    [record] = [r for r in caplog.records if "NOT-OURS-1" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert BOB[1:] not in record.getMessage() and P1[1:] not in record.getMessage()


async def queued(app: Quart) -> Delivery:
    """Alice texts Bob; the Delivery waits for the sender, which has not recorded a send."""
    rt: Runtime = app.extensions["smsproxy"]
    await add_numbers(rt, P1)
    await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
    response = await app.test_client().post(
        "/webhooks/inbound-sms",
        form={"msisdn": ALICE[1:], "to": P1[1:], "messageId": "IN-1", "text": "Outside"},
    )
    assert response.status_code == 204
    return await load(rt)


async def test_a_receipt_before_the_send_is_recorded_is_kept(
    app: Quart, app_runtime: Runtime
) -> None:
    delivery = await queued(app)

    response = await receipt(app, "EARLY-1", "delivered", **{"client-ref": delivery.public_id})
    assert response.status_code == 204
    # One part known of an unknown number: not yet enough to call it delivered.
    assert (await load(app_runtime)).status == delivery.status
    async with app_runtime.db.read() as session:
        part = await session.get(CarrierMessage, "EARLY-1")
    assert part is not None and (part.delivery_id, part.status) == (delivery.id, "delivered")

    status = await app_runtime.sender.record_sent(delivery, SendResult(message_ids=["EARLY-1"]))

    assert status == DeliveryStatus.delivered
    after = await load(app_runtime)
    assert (after.status, after.carrier_message_ids) == (DeliveryStatus.delivered, ["EARLY-1"])
    assert (await delivery_statuses(app_runtime, delivery))[-2:] == ["sent", "delivered"]


async def test_an_early_part_waits_for_the_others(app: Quart, app_runtime: Runtime) -> None:
    delivery = await queued(app)
    await receipt(app, "EARLY-1", "delivered", **{"client-ref": delivery.public_id})

    await app_runtime.sender.record_sent(delivery, SendResult(message_ids=["EARLY-1", "LATE-2"]))
    assert (await load(app_runtime)).status == DeliveryStatus.sent
    await receipt(app, "LATE-2", "delivered")

    assert (await load(app_runtime)).status == DeliveryStatus.delivered


async def test_an_early_failure_is_not_undone_by_the_send_record(
    app: Quart, app_runtime: Runtime
) -> None:
    delivery = await queued(app)

    extra = {"client-ref": delivery.public_id, "err-code": "9"}
    await receipt(app, "EARLY-1", "rejected", **extra)
    assert (await load(app_runtime)).status == DeliveryStatus.rejected
    status = await app_runtime.sender.record_sent(delivery, SendResult(message_ids=["EARLY-1"]))

    after = await load(app_runtime)
    assert status == after.status == DeliveryStatus.rejected
    assert after.error_code == "9"


async def test_an_unknown_message_with_a_foreign_client_ref_is_ignored(
    app: Quart, app_runtime: Runtime
) -> None:
    delivery = await queued(app)

    response = await receipt(app, "NOT-OURS-2", "delivered", **{"client-ref": "dl_not_ours"})
    no_ref = await receipt(app, "NOT-OURS-3", "delivered")

    assert (response.status_code, no_ref.status_code) == (204, 204)
    async with app_runtime.db.read() as session:
        assert (await session.exec(select(CarrierMessage))).all() == []
    assert (await load(app_runtime)).status == delivery.status


async def test_a_receipt_without_status_is_malformed(app: Quart) -> None:
    response = await receipt(app, "X1", "")
    assert response.status_code == 400
    assert "status" in (await response.get_json())["error"]["message"]

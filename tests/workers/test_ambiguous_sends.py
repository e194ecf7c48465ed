"""A send that gets no answer may have gone out: it is retried late, spread out, with
more patience, counted on the row, and not at all once a receipt shows that it went."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from quart import Quart
from sqlmodel import select

from smsproxy.app import create_app
from smsproxy.carrier import InboundSms, Receipt
from smsproxy.config import Settings
from smsproxy.db import utcnow
from smsproxy.models import Delivery, DeliveryStatus
from smsproxy.outbox.claims import claim_due
from smsproxy.runtime import Runtime
from tests.conftest import logged_in_client, make_settings
from tests.helpers import add_numbers, auth, create_api_key, start_chat
from tests.workers.test_sender import load, queue_sms, vonage_settings

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

COUNT = 6
SLOW = 2.0  # the carrier's answer takes this long; VONAGE_TIMEOUT_SECONDS is 1


@pytest.fixture
def settings(database_url: str, fake_vonage: FakeVonage) -> Settings:
    return vonage_settings(database_url, fake_vonage)  # VONAGE_TIMEOUT_SECONDS=1


async def rows(rt: Runtime) -> list[Delivery]:
    async with rt.db.read() as session:
        return list((await session.exec(select(Delivery))).all())


async def test_a_slow_carrier_gets_each_sms_once_then_a_patient_retry_later(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    fake_vonage.slow(count=COUNT, seconds=SLOW)  # slower than the timeout: ambiguous
    for n in range(COUNT):
        await queue_sms(runtime, f"message {n}", to=f"+4477009001{n:02d}")
    worker = asyncio.create_task(runtime.run_sender())
    try:
        async with asyncio.timeout(20):
            while {row.ambiguous_attempts for row in await rows(runtime)} != {1}:
                await asyncio.sleep(0.05)
        timed_out_at = utcnow()
        first_round = [request.text for request in fake_vonage.requests]
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    # Each went out once (the carrier did accept every one, slowly), and none again at
    # once: the retries wait 30-60 s for a receipt, spread so they never go together.
    assert sorted(first_round) == sorted(f"message {n}" for n in range(COUNT))
    queued = await rows(runtime)
    assert {row.status for row in queued} == {DeliveryStatus.queued}
    assert all(row.error and "may have sent" in row.error for row in queued)
    due = sorted(row.next_attempt_at for row in queued)
    assert due[0] >= timed_out_at + timedelta(seconds=30) - timedelta(seconds=SLOW + 1)
    assert due[-1] <= utcnow() + timedelta(seconds=60)
    assert len(set(due)) == COUNT

    fake_vonage.slow(count=COUNT, seconds=SLOW)  # still slow, but within the patient wait
    later = utcnow() + timedelta(seconds=61)
    assert await runtime.sender.run_round(now=later, limit=COUNT) == COUNT

    sent = await rows(runtime)
    assert {(row.status, row.attempts, row.ambiguous_attempts) for row in sent} == {
        (DeliveryStatus.sent, 2, 1)
    }
    assert len(fake_vonage.requests) == 2 * COUNT  # the retry did not time out again


async def test_a_receipt_for_an_unanswered_send_cancels_its_retry(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    fake_vonage.slow(count=1, seconds=SLOW)
    queued = await queue_sms(runtime)
    assert await runtime.sender.run_round() == 1
    assert (await load(runtime, queued)).status == DeliveryStatus.queued
    [request] = fake_vonage.wait_for(1)

    # The handset's network says it arrived: that send did go out.
    await runtime.ingress.receive_receipt(
        Receipt(request.message_ids[0], "delivered", "0", client_ref=queued.public_id)
    )

    row = await load(runtime, queued)
    assert (row.status, row.ambiguous_attempts) == (DeliveryStatus.delivered, 1)
    assert row.carrier_message_ids == request.message_ids
    assert await runtime.sender.run_round(now=utcnow() + timedelta(hours=1)) == 0
    assert len(fake_vonage.requests) == 1


async def test_a_send_cut_off_by_a_crash_is_not_repeated_once_a_receipt_came(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    queued = await queue_sms(runtime)
    now = utcnow()
    lease = runtime.settings.send_lease_seconds
    await claim_due(runtime.db, 1, now, lease_seconds=lease)  # claimed, sent, then SIGKILL
    await runtime.ingress.receive_receipt(
        Receipt("CUT-OFF-1", "delivered", "0", client_ref=queued.public_id)
    )
    assert (await load(runtime, queued)).status == DeliveryStatus.sending  # lease still on

    # Once the lease has run out the row is not sent again: the receipt showed it went.
    assert await runtime.sender.run_round(now=now + timedelta(seconds=lease + 1)) == 0

    row = await load(runtime, queued)
    assert (row.status, row.carrier_message_ids) == (DeliveryStatus.delivered, ["CUT-OFF-1"])
    assert fake_vonage.requests == []


async def test_a_send_cut_off_without_a_receipt_is_retried_patiently_and_counted(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    queued = await queue_sms(runtime)
    now = utcnow()
    lease = runtime.settings.send_lease_seconds
    await claim_due(runtime.db, 1, now, lease_seconds=lease)
    fake_vonage.slow(count=1, seconds=SLOW)  # slower than 1 s, within 3 s

    assert await runtime.sender.run_round(now=now + timedelta(seconds=lease + 1)) == 1

    row = await load(runtime, queued)
    assert (row.status, row.attempts, row.ambiguous_attempts) == (DeliveryStatus.sent, 2, 1)


async def test_the_api_and_the_transcript_show_unanswered_sends(
    database_url: str, fake_vonage: FakeVonage
) -> None:
    app: Quart = create_app(vonage_settings(database_url, fake_vonage), background=False)
    async with app.test_app():
        rt: Runtime = app.extensions["smsproxy"]
        key = await create_api_key(rt)
        await add_numbers(rt, "+447700900901")
        view = await start_chat(rt, ("+447700900101", "Rider"), ("+447700900102", "Driver"))
        fake_vonage.slow(count=1, seconds=SLOW)
        await rt.ingress.receive_sms(
            InboundSms("+447700900101", "+447700900901", "AMB1", "Are you there?")
        )
        assert await rt.sender.run_round() == 1

        answer = await app.test_client().get(
            f"/api/v1/chats/{view.chat.public_id}/messages", headers=auth(key)
        )
        client = await logged_in_client(app, "staff", "agent")
        page = await client.get(f"/chats/{view.chat.public_id}")

    [message] = (await answer.get_json())["messages"]
    [delivery] = message["deliveries"]
    assert (delivery["status"], delivery["ambiguous_attempts"]) == ("queued", 1)
    html = await page.get_data(as_text=True)
    assert "Sent 1 time without an answer from the carrier" in html


def test_a_lease_shorter_than_a_patient_send_is_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match=r"SEND_LEASE_SECONDS \(30\) must be at least 32"):
        make_settings(database_url, vonage_timeout_seconds=10, send_lease_seconds=30)


async def test_a_claim_whose_lease_ran_short_is_handed_back_unsent(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    queued = await queue_sms(runtime)
    # Claimed, then kept waiting for a slot until less lease is left than a send may take.
    [claimed] = await claim_due(runtime.db, 1, lease_seconds=2)

    assert await runtime.sender.process(claimed) == DeliveryStatus.queued

    row = await load(runtime, queued)
    assert (row.status, row.attempts, row.lease_until) == (DeliveryStatus.queued, 0, None)
    assert fake_vonage.requests == []  # nobody else could have taken it over mid-send
    assert await runtime.sender.run_round() == 1
    assert (await load(runtime, queued)).status == DeliveryStatus.sent

"""The sender worker, over a real database and the real Vonage SDK against the fake."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import col, select, update

from smsproxy.carrier import TransientCarrierError
from smsproxy.config import Settings
from smsproxy.db import Database, utcnow
from smsproxy.models import (
    AuthorKind,
    CarrierMessage,
    Chat,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    EventRecord,
    Message,
)
from smsproxy.outbox import claims
from smsproxy.outbox.claims import claim_due
from smsproxy.outbox.enqueue import enqueue
from smsproxy.outbox.results import backoff
from smsproxy.runtime import Runtime
from smsproxy.workers import sender as sender_module
from smsproxy.workers.ratelimit import TokenBucket
from tests.conftest import make_settings

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

TO = "+447700900123"
FROM = "+447700900001"


def vonage_settings(database_url: str, fake: FakeVonage, **overrides: Any) -> Settings:
    return make_settings(
        database_url, **{**fake.settings(), "vonage_timeout_seconds": 1, **overrides}
    )


@pytest.fixture
def settings(database_url: str, fake_vonage: FakeVonage) -> Settings:
    return vonage_settings(database_url, fake_vonage)


async def queue_sms(rt: Runtime, body: str = "Your driver is outside", to: str = TO) -> Delivery:
    async with rt.db.transaction() as session:
        return await enqueue(
            session, Delivery(kind=DeliveryKind.staff, from_number=FROM, to_number=to, body=body)
        )


async def load(rt: Runtime, delivery: Delivery) -> Delivery:
    async with rt.db.read() as session:
        row = await session.get(Delivery, delivery.id)
        assert row is not None
        return row


async def test_sends_and_records_every_part(runtime: Runtime, fake_vonage: FakeVonage) -> None:
    async with runtime.db.transaction() as session:
        chat = Chat()
        session.add(chat)
        await session.flush()
        message = Message(chat_id=chat.id, author_kind=AuthorKind.system, body="hi")
        session.add(message)
        await session.flush()
        queued = await enqueue(
            session,
            Delivery(
                kind=DeliveryKind.forward,
                from_number=FROM,
                to_number=TO,
                body="w" * 400,
                chat_id=chat.id,
                message_id=message.id,
            ),
            chat_public_id=chat.public_id,
            message_public_id=message.public_id,
        )

    assert await runtime.sender.run_round() == 1

    [request] = fake_vonage.requests
    assert request.client_ref == queued.public_id
    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.sent
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.lease_until is None
    assert len(row.carrier_message_ids) == 3
    assert row.carrier_message_ids == request.message_ids
    async with runtime.db.read() as session:
        mapped = (await session.exec(select(CarrierMessage))).all()
        events = (await session.exec(select(EventRecord).order_by(col(EventRecord.id)))).all()
    assert {item.carrier_message_id: item.delivery_id for item in mapped} == {
        mid: row.id for mid in request.message_ids
    }
    updates = [event for event in events if event.name == "delivery.updated"]
    assert [event.payload["status"] for event in updates] == ["queued", "sending", "sent"]
    assert {event.chat_public_id for event in updates} == {chat.public_id}
    assert {event.payload["message_id"] for event in updates} == {message.public_id}
    assert all(TO not in str(event.payload) for event in updates)


async def test_unicode_goes_as_unicode_and_gsm_as_text(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    await queue_sms(runtime, "À tout à l'heure 🙂")
    await queue_sms(runtime, "See you at 5€ {gate 3}")

    assert await runtime.sender.drain(timeout=5) == 2

    types = {request.text: request.type for request in fake_vonage.requests}
    assert types == {"À tout à l'heure 🙂": "unicode", "See you at 5€ {gate 3}": None}


@pytest.mark.parametrize(
    ("setup", "code", "words", "retry_window"),
    [
        (lambda fake: fake.throttle(), "1", "throttled", (0, 2)),
        (lambda fake: fake.fail_http(status=500), "500", "server error", (0, 2)),
        # No answer after the request went out: it may have been sent, so the retry
        # waits for a receipt that would say so (30-60 s), and is counted.
        (lambda fake: fake.hang(seconds=3), "timeout", "may have sent", (30, 60)),
        (lambda fake: fake.drop(), "network", "may have sent", (30, 60)),
    ],
    ids=["throttled", "http-500", "hang", "drop"],
)
async def test_transient_failure_is_retried_later(
    runtime: Runtime,
    fake_vonage: FakeVonage,
    setup: Any,
    code: str,
    words: str,
    retry_window: tuple[int, int],
) -> None:
    setup(fake_vonage)
    queued = await queue_sms(runtime)
    before = utcnow()

    assert await runtime.sender.run_round() == 1

    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.queued
    assert row.attempts == 1
    assert row.error_code == code
    assert row.error is not None and words in row.error.lower()
    assert row.lease_until is None
    ambiguous = retry_window[0] > 0
    assert row.ambiguous_attempts == (1 if ambiguous else 0)
    # The first retry: full jitter under a 2 s ceiling, or 30-60 s after an ambiguous send.
    earliest, latest = (timedelta(seconds=seconds) for seconds in retry_window)
    assert before + earliest <= row.next_attempt_at <= utcnow() + latest

    assert await runtime.sender.run_round(now=utcnow() + latest + timedelta(seconds=1)) == 1

    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.sent
    assert row.attempts == 2
    assert row.ambiguous_attempts == (1 if ambiguous else 0)
    assert row.error is None and row.error_code is None
    assert [request.outcome for request in fake_vonage.requests][-1] == "ok"
    assert row.carrier_message_ids == fake_vonage.sent[-1].message_ids


async def test_bad_credentials_fail_at_once_with_a_clear_error(
    database_url: str, fake_vonage: FakeVonage
) -> None:
    rt = Runtime(
        vonage_settings(database_url, fake_vonage, vonage_api_secret="wrong"),
        background=False,
    )
    await rt.start()
    try:
        queued = await queue_sms(rt)
        assert await rt.sender.run_round() == 1
        row = await load(rt, queued)
    finally:
        await rt.stop()

    assert row.status == DeliveryStatus.failed
    assert row.error_code == "4"
    assert row.error is not None and "VONAGE_API_KEY and VONAGE_API_SECRET" in row.error
    assert row.carrier_message_ids == []


async def test_invalid_number_fails_at_once(runtime: Runtime, fake_vonage: FakeVonage) -> None:
    fake_vonage.reject(TO, "3")
    queued = await queue_sms(runtime)

    await runtime.sender.run_round()

    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.failed
    assert row.error_code == "3"
    assert row.error is not None and "invalid" in row.error.lower()
    # Nothing is due any more: a failed row is never sent again.
    assert await runtime.sender.run_round(now=utcnow() + timedelta(hours=1)) == 0
    assert len(fake_vonage.requests) == 1


async def test_gives_up_on_transient_errors_past_max_age(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    queued = await queue_sms(runtime)
    max_age = runtime.settings.send_max_age_seconds
    queued_at = utcnow() - timedelta(seconds=max_age + 1)
    await backdate(runtime, queued, queued_at)
    fake_vonage.throttle()

    # Still young when claimed; too old once the carrier's answer is recorded.
    await runtime.sender.run_round(now=queued_at + timedelta(seconds=max_age - 1))

    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.failed
    assert row.error_code == "1"
    assert row.error is not None and row.error.startswith("Gave up after 1 attempt(s):")
    assert "throttled" in row.error


async def backdate(rt: Runtime, delivery: Delivery, when: datetime) -> None:
    """As if the row had been queued (and come due) at `when`."""
    async with rt.db.transaction() as session:
        await session.exec(
            update(Delivery)
            .where(col(Delivery.id) == delivery.id)
            .values(created_at=when, next_attempt_at=when)
        )


async def test_a_row_past_max_age_when_claimed_is_failed_not_sent(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    max_age = runtime.settings.send_max_age_seconds
    stale = await queue_sms(runtime, "stale")
    fresh = await queue_sms(runtime, "fresh")
    await backdate(runtime, stale, utcnow() - timedelta(seconds=max_age + 1))

    assert await runtime.sender.run_round() == 1

    row = await load(runtime, stale)
    assert (row.status, row.attempts, row.lease_until) == (DeliveryStatus.failed, 0, None)
    assert row.error == "Not sent within 6 hours: an SMS is not sent so late"
    assert [request.text for request in fake_vonage.requests] == ["fresh"]
    assert (await load(runtime, fresh)).status == DeliveryStatus.sent
    async with runtime.db.read() as session:
        events = (await session.exec(select(EventRecord))).all()
    assert any(
        e.payload.get("delivery_id") == stale.public_id and e.payload.get("status") == "failed"
        for e in events
    ), "live pages hear that it failed"
    assert await runtime.sender.run_round(now=utcnow() + timedelta(hours=1)) == 0


async def test_a_retry_that_comes_due_too_late_keeps_its_last_error(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    fake_vonage.throttle()
    queued = await queue_sms(runtime)
    await runtime.sender.run_round()  # throttled: queued again with backoff
    retry = await load(runtime, queued)
    assert retry.status == DeliveryStatus.queued
    max_age = runtime.settings.send_max_age_seconds

    # Every worker was down until long after the retry came due.
    assert await runtime.sender.run_round(now=retry.created_at + timedelta(seconds=max_age)) == 0

    row = await load(runtime, queued)
    assert (row.status, row.attempts, row.error_code) == (DeliveryStatus.failed, 1, "1")
    assert row.error is not None and row.error.startswith("Not sent within 6 hours")
    assert "last attempt:" in row.error and "throttled" in row.error.lower()
    assert len(fake_vonage.requests) == 1


async def test_a_lost_lease_past_max_age_is_failed_not_sent_again(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    queued = await queue_sms(runtime)
    now = utcnow()
    await claim_due(runtime.db, 1, now, lease_seconds=60)  # and the process dies
    max_age = runtime.settings.send_max_age_seconds

    assert await runtime.sender.run_round(now=now + timedelta(seconds=max_age + 1)) == 0

    assert (await load(runtime, queued)).status == DeliveryStatus.failed
    assert fake_vonage.requests == []


async def test_the_worker_fails_rows_past_max_age_too(
    database_url: str, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It looks for them now and then (every 30 s), never as part of a claim.
    monkeypatch.setattr(sender_module, "EXPIRE_EVERY_SECONDS", 0.2)
    rt = Runtime(
        vonage_settings(database_url, fake_vonage, send_max_age_seconds=90), background=False
    )
    await rt.start()
    task = asyncio.create_task(rt.run_sender())
    try:
        long_ago = utcnow() - timedelta(seconds=91)
        stale = Delivery(
            kind=DeliveryKind.staff,
            from_number=FROM,
            to_number=TO,
            body="stale",
            created_at=long_ago,
            next_attempt_at=long_ago,
        )
        async with rt.db.transaction() as session:  # queued before an outage, say
            session.add(stale)
        fresh = await queue_sms(rt, "fresh")
        await wait_for_status(rt, fresh, DeliveryStatus.sent)
        row = await wait_for_status(rt, stale, DeliveryStatus.failed)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await rt.stop()

    assert row.error == "Not sent within 90 seconds: an SMS is not sent so late"
    assert [request.text for request in fake_vonage.requests] == ["fresh"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (21600, "6 hours"),
        (3600, "1 hour"),
        (120, "2 minutes"),
        (60, "1 minute"),
        (90, "90 seconds"),
    ],
)
def test_max_age_reads_as_people_say_it(seconds: int, shown: str) -> None:
    assert claims._span(seconds) == shown


async def test_expired_lease_is_claimed_again(runtime: Runtime, fake_vonage: FakeVonage) -> None:
    queued = await queue_sms(runtime)
    lease = runtime.settings.send_lease_seconds
    now = utcnow()

    # A process claims the row and dies before sending it.
    [claimed] = await claim_due(runtime.db, 10, now, lease_seconds=lease)
    assert claimed.status == DeliveryStatus.sending
    assert claimed.lease_until == now + timedelta(seconds=lease)
    assert await claim_due(runtime.db, 10, now + timedelta(seconds=lease - 1)) == []

    assert await runtime.sender.run_round(now=now + timedelta(seconds=lease + 1)) == 1

    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.sent
    assert row.attempts == 2
    assert len(fake_vonage.sent) == 1


async def test_late_failure_from_a_lost_lease_does_not_undo_the_new_owner(
    runtime: Runtime,
) -> None:
    queued = await queue_sms(runtime)
    now = utcnow()
    [first] = await claim_due(runtime.db, 1, now, lease_seconds=60)
    [second] = await claim_due(runtime.db, 1, now + timedelta(seconds=61), lease_seconds=60)
    assert second.attempts == 2

    status = await runtime.sender.record_failure(first, TransientCarrierError("late", "x"))

    row = await load(runtime, queued)
    assert status == DeliveryStatus.sending
    assert (row.status, row.attempts, row.error) == (DeliveryStatus.sending, 2, None)


async def test_sent_never_overwrites_a_receipt(runtime: Runtime, fake_vonage: FakeVonage) -> None:
    queued = await queue_sms(runtime)
    [claimed] = await claim_due(runtime.db, 1)
    # A delivery receipt (matched by client-ref) lands before the send is recorded.
    async with runtime.db.transaction() as session:
        await session.exec(
            update(Delivery)
            .where(col(Delivery.id) == queued.id)
            .values(status=DeliveryStatus.delivered)
        )

    assert await runtime.sender.process(claimed) == DeliveryStatus.delivered

    row = await load(runtime, queued)
    assert row.status == DeliveryStatus.delivered
    assert row.carrier_message_ids == fake_vonage.sent[0].message_ids


async def test_concurrent_claimers_never_share_a_row(runtime: Runtime) -> None:
    for n in range(30):
        await queue_sms(runtime, f"message {n}")
    other = Database(runtime.settings.database_url)  # as a second process would
    try:
        claims = await asyncio.gather(
            *(claim_due(db, 8) for db in (runtime.db, other, runtime.db, other, runtime.db))
        )
    finally:
        await other.dispose()

    ids = [row.id for claim in claims for row in claim]
    assert len(ids) == len(set(ids)) == 30
    async with runtime.db.read() as session:
        rows = (await session.exec(select(Delivery))).all()
    assert {(row.status, row.attempts) for row in rows} == {(DeliveryStatus.sending, 1)}


def test_token_bucket_spaces_sends_at_the_rate() -> None:
    clock = [100.0]
    bucket = TokenBucket(rate=10, clock=lambda: clock[0])

    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0.1, 0.2, 0.3])
    clock[0] += 0.35  # the queue has caught up, nothing saved up
    assert bucket.reserve() == pytest.approx(0.05)
    clock[0] += 60  # a long idle spell saves up only one burst
    assert [bucket.reserve() for _ in range(2)] == pytest.approx([0, 0.1])


def test_token_bucket_burst() -> None:
    clock = [0.0]
    bucket = TokenBucket(rate=30, burst=3, clock=lambda: clock[0])

    assert [bucket.reserve() for _ in range(5)] == pytest.approx([0, 0, 0, 1 / 30, 2 / 30])
    clock[0] += 1.0
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 1 / 30])


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, 300.0), (50, 300.0)]
)
def test_backoff_is_full_jitter_under_an_exponential_ceiling(attempts: int, ceiling: float) -> None:
    assert backoff(attempts, rng=lambda: 0.0) == 0.0
    assert backoff(attempts, rng=lambda: 0.5) == pytest.approx(ceiling / 2)
    assert backoff(attempts, rng=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert all(0 <= backoff(attempts) < ceiling for _ in range(100))


async def test_drain_waits_for_a_retry_that_comes_due(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    fake_vonage.throttle()
    queued = await queue_sms(runtime)

    assert await runtime.sender.drain(timeout=10) == 2

    row = await load(runtime, queued)
    assert (row.status, row.attempts) == (DeliveryStatus.sent, 2)


async def test_drain_leaves_retries_beyond_its_timeout(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    fake_vonage.throttle()
    queued = await queue_sms(runtime)
    await runtime.sender.run_round()
    async with runtime.db.transaction() as session:
        await session.exec(
            update(Delivery)
            .where(col(Delivery.id) == queued.id)
            .values(next_attempt_at=utcnow() + timedelta(minutes=5))
        )

    assert await runtime.sender.drain(timeout=1) == 0
    assert (await load(runtime, queued)).status == DeliveryStatus.queued


@pytest.fixture
async def worker(runtime: Runtime) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(runtime.run_sender())
    yield task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def wait_for_status(
    rt: Runtime, delivery: Delivery, status: DeliveryStatus, timeout: float = 10
) -> Delivery:
    async with asyncio.timeout(timeout):
        while (row := await load(rt, delivery)).status != status:
            await asyncio.sleep(0.05)
    return row


async def test_worker_sends_what_this_process_queues(
    runtime: Runtime, fake_vonage: FakeVonage, worker: asyncio.Task[None]
) -> None:
    rows = [await queue_sms(runtime, f"message {n}") for n in range(5)]

    for row in rows:
        await wait_for_status(runtime, row, DeliveryStatus.sent)
    assert sorted(request.text for request in fake_vonage.sent) == [
        f"message {n}" for n in range(5)
    ]


async def test_worker_picks_up_rows_from_other_processes(
    runtime: Runtime, fake_vonage: FakeVonage, worker: asyncio.Task[None]
) -> None:
    other = Database(runtime.settings.database_url)  # commits here do not wake the worker
    try:
        async with other.transaction() as session:
            queued = await enqueue(
                session,
                Delivery(kind=DeliveryKind.staff, from_number=FROM, to_number=TO, body="hi"),
            )
    finally:
        await other.dispose()
    assert not runtime.outbox_wakeup.is_set()

    await wait_for_status(runtime, queued, DeliveryStatus.sent)


async def test_stopping_the_worker_lets_a_send_under_way_finish(
    runtime: Runtime, fake_vonage: FakeVonage
) -> None:
    fake_vonage.hang(seconds=3)
    task = asyncio.create_task(runtime.run_sender())
    queued = await queue_sms(runtime)
    await wait_for_status(runtime, queued, DeliveryStatus.sending)
    while not fake_vonage.requests:
        await asyncio.sleep(0.05)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # The send timed out while the worker stopped; its outcome was still recorded.
    row = await load(runtime, queued)
    assert (row.status, row.error_code) == (DeliveryStatus.queued, "timeout")

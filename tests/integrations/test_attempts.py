"""What each answer means: delivered, retried with backoff (honouring Retry-After),
or final; the retry window; and an endpoint failing for days disabled, visibly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from smsproxy.db import utcnow
from smsproxy.integrations.results import BACKOFF_CAP_SECONDS, backoff
from smsproxy.integrations.signing import SecretBox
from smsproxy.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.receiver import Answer, Receiver
from tests.helpers import add_endpoint, add_numbers, start_chat
from tests.server import free_port

pytest_plugins = ["tests.fakes.webhook_receiver"]

P1 = "+447700900901"


@pytest.fixture
async def rt(database_url: str) -> AsyncIterator[Runtime]:
    value = Runtime(make_settings(database_url, webhook_timeout_seconds=0.5), background=False)
    await value.start()
    await add_numbers(value, P1)
    yield value
    await value.stop()


async def one_event(rt: Runtime, url: str) -> WebhookEndpoint:
    endpoint, _ = await add_endpoint(rt, url, ["chat.created"])
    await start_chat(rt, ("+447700900101", "A"), ("+447700900102", "B"))
    return endpoint


async def the_row(rt: Runtime) -> WebhookDelivery:
    async with rt.db.read() as session:
        return (await session.exec(select(WebhookDelivery))).one()


async def the_endpoint(rt: Runtime) -> WebhookEndpoint:
    async with rt.db.read() as session:
        return (await session.exec(select(WebhookEndpoint))).one()


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (Answer(204), "delivered", None),
        (Answer(200), "delivered", None),
        (Answer(503), "queued", "HTTP 503 Service Unavailable"),
        (Answer(500), "queued", "HTTP 500"),
        (Answer(408), "queued", "HTTP 408"),
        (Answer(429), "queued", "HTTP 429 Too Many Requests"),
        (Answer(400), "failed", "HTTP 400 Bad Request"),
        (Answer(401), "failed", "HTTP 401"),
        (Answer(410), "failed", "HTTP 410 Gone"),
        (Answer(302, {"Location": "https://x"}), "failed", "redirects are not followed"),
        (Answer(hang=True), "queued", "Timed out"),
    ],
)
async def test_each_answer_is_delivered_retried_or_final(
    rt: Runtime, receiver: Receiver, answer: Answer, status: str, error: str | None
) -> None:
    await one_event(rt, receiver.url("/a"))
    receiver.hold()
    receiver.plan("/a", answer)
    try:
        assert await rt.webhook_worker.run_round() == 1
    finally:
        receiver.release()
    row = await the_row(rt)
    assert row.status == status and row.attempts == 1
    if error is None:
        assert row.last_error is None
    else:
        assert row.last_error is not None and error in row.last_error


async def test_a_connection_refused_is_retried(rt: Runtime) -> None:
    await one_event(rt, f"http://127.0.0.1:{free_port()}/nobody-listens")
    assert await rt.webhook_worker.run_round() == 1
    row = await the_row(rt)
    assert row.status == "queued" and row.last_status_code is None
    assert row.last_error is not None and row.last_error.startswith("Could not connect")


@pytest.mark.parametrize("retry_after", ["120", "RFC-DATE"])
async def test_retry_after_is_honoured(rt: Runtime, receiver: Receiver, retry_after: str) -> None:
    from email.utils import format_datetime

    if retry_after == "RFC-DATE":
        retry_after = format_datetime(utcnow() + timedelta(seconds=121), usegmt=True)
    await one_event(rt, receiver.url("/a"))
    receiver.plan("/a", Answer(429, {"Retry-After": retry_after}))
    before = utcnow()
    await rt.webhook_worker.run_round()
    row = await the_row(rt)
    assert row.status == "queued"
    assert row.next_attempt_at >= before + timedelta(seconds=118)


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    assert backoff(1, lambda: 1.0) == 5.0 and backoff(3, lambda: 1.0) == 20.0
    assert backoff(40, lambda: 1.0) == BACKOFF_CAP_SECONDS
    assert backoff(5, lambda: 0.0) == 0.0


async def test_retries_stop_when_the_day_is_over(rt: Runtime, receiver: Receiver) -> None:
    await one_event(rt, receiver.url("/a"))
    receiver.always("/a", Answer(503))
    day = rt.settings.webhook_retry_seconds
    async with rt.db.transaction() as session:
        # Queued almost a day ago: the next backoff would run past the window.
        await session.exec(
            update(WebhookDelivery).values(
                queued_at=utcnow() - timedelta(seconds=day - 1), attempts=12
            )
        )
    await rt.webhook_worker.run_round()
    row = await the_row(rt)
    assert row.status == "failed" and row.last_error is not None
    assert row.last_error.startswith("Gave up after 13 attempts: HTTP 503")

    async with rt.db.transaction() as session:
        await session.exec(
            update(WebhookDelivery).values(
                status="queued", queued_at=utcnow() - timedelta(seconds=day + 60)
            )
        )
    sent = len(receiver.received)
    await rt.webhook_worker.run_round()
    row = await the_row(rt)
    assert row.status == "failed" and "Not delivered within 24 h" in (row.last_error or "")
    assert len(receiver.received) == sent  # too late: not sent at all


async def fail_for(rt: Runtime, span: timedelta) -> None:
    async with rt.db.transaction() as session:
        await session.exec(update(WebhookEndpoint).values(failing_since=utcnow() - span))


async def test_an_endpoint_failing_for_days_is_disabled_with_the_reason(
    rt: Runtime, receiver: Receiver
) -> None:
    endpoint = await one_event(rt, receiver.url("/a"))
    receiver.always("/a", Answer(500))
    limit = timedelta(seconds=rt.settings.webhook_disable_after_seconds)
    await fail_for(rt, limit - timedelta(minutes=5))
    await rt.webhook_worker.run_round()
    still = await the_endpoint(rt)
    assert still.enabled and still.failing_since is not None  # failing, not yet disabled

    await fail_for(rt, limit + timedelta(minutes=5))
    await rt.webhook_worker.run_round(utcnow() + timedelta(hours=2))
    off = await the_endpoint(rt)
    assert not off.enabled and off.disabled_at is not None
    assert off.disabled_reason is not None
    assert off.disabled_reason.startswith("Disabled automatically: every attempt failed for 3.0")
    assert "last: HTTP 500" in off.disabled_reason
    async with rt.db.read() as session:
        audit = (
            await session.exec(
                select(AuditEvent).where(col(AuditEvent.action) == "webhook_endpoint.disabled")
            )
        ).one()
    assert (audit.actor, audit.target) == ("system:webhooks", endpoint.public_id)

    # Nothing more is queued for it, and what is queued waits.
    await start_chat(rt, ("+447700900103", "C"), ("+447700900104", "D"))
    async with rt.db.read() as session:
        rows = (await session.exec(select(WebhookDelivery))).all()
    assert len(rows) == 1 and rows[0].status == "queued"
    assert await rt.webhook_worker.run_round(utcnow() + timedelta(hours=4)) == 0


async def test_a_success_ends_the_failure_streak(rt: Runtime, receiver: Receiver) -> None:
    await one_event(rt, receiver.url("/a"))
    await fail_for(rt, timedelta(days=2))
    await rt.webhook_worker.run_round()
    healthy = await the_endpoint(rt)
    assert healthy.failing_since is None and healthy.enabled


async def test_a_secret_this_key_cannot_open_fails_with_the_reason(
    rt: Runtime, receiver: Receiver
) -> None:
    await one_event(rt, receiver.url("/a"))
    rt.webhooks.box = SecretBox("a SECRET_KEY that changed")
    await rt.webhook_worker.run_round()
    row = await the_row(rt)
    assert row.status == "failed" and "SECRET_KEY" in (row.last_error or "")
    assert receiver.received == []

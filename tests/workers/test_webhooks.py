"""The webhook worker against a real HTTP receiver on 127.0.0.1 that verifies every
signature with the `standardwebhooks` library: a whole chat's life arrives, a receiver
that fails and recovers gets its events, a slow endpoint holds up neither the others
nor SMS forwarding, and several workers share the outbox without sending twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from smsproxy.carrier import PermanentCarrierError
from smsproxy.db import utcnow
from smsproxy.events import INTEGRATION_TYPES
from smsproxy.integrations.results import AttemptResult, Outcome, Policy
from smsproxy.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    Screening,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from smsproxy.proxy.chats import NewParticipant, Templates, close_chat
from smsproxy.proxy.holds import reject_held, release_held
from smsproxy.proxy.membership import add_participant, remove_participant
from smsproxy.proxy.queries import get_chat
from smsproxy.proxy.renewal import Extension, extend_chat, reopen_chat
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.receiver import Answer, Receiver
from tests.helpers import add_endpoint, add_numbers, start_chat

pytest_plugins = ["tests.fakes.webhook_receiver"]

P1 = "+447700900901"
ALICE, BOB, CAROL, STRANGER = "+447700900101", "+447700900102", "+447700900103", "+447700900999"
REAL = (ALICE, BOB, CAROL, STRANGER)


async def all_rows(rt: Runtime, model: Any) -> list[Any]:
    async with rt.db.read() as session:
        return list((await session.exec(select(model).order_by(col(model.id)))).all())


async def held_ids(rt: Runtime) -> list[str]:
    async with rt.db.read() as session:
        query = select(Message.public_id).where(Message.screening == Screening.held)
        return list((await session.exec(query.order_by(col(Message.id)))).all())


async def live_chat_history(rt: Runtime) -> str:
    """A chat from creation to close, with every kind of event on the way; returns
    the chat's id."""
    await add_numbers(rt, P1)
    view = await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"), intro=True)
    chat_id = view.chat.public_id
    await rt.sender.drain()
    await rt.carrier.settle()  # the sandbox's receipts: delivered
    await text_from_handset(rt.db, rt.routing, ALICE, P1, "On my way")
    await text_from_handset(rt.db, rt.routing, STRANGER, P1, "Who is this?")
    [forward, *_] = await rt.sender.claim(10)
    await rt.sender.record_failure(forward, PermanentCarrierError("Unknown handset", "3"))
    holding = replace(rt.routing, contact_policy="hold")
    for text in ("call me on 07911 123456", "or mail bob.smith@example.com"):
        await text_from_handset(rt.db, holding, BOB, P1, text)
    first, second = await held_ids(rt)
    async with rt.db.transaction() as session:
        await release_held(session, chat_id, first, actor="tests", policy="hold")
    async with rt.db.transaction() as session:
        await reject_held(session, chat_id, second, actor="tests")
    await text_from_handset(rt.db, rt.routing, BOB, P1, "STOP")
    await text_from_handset(rt.db, rt.routing, BOB, P1, "START")
    async with rt.db.transaction() as session:
        _, carol = await add_participant(
            session, chat_id, NewParticipant(CAROL, "Helper"), intro=False,
            templates=Templates(), actor="tests",
        )  # fmt: skip
    async with rt.db.transaction() as session:
        await remove_participant(session, chat_id, carol.public_id, actor="tests")
    async with rt.db.transaction() as session:
        await extend_chat(session, chat_id, Extension(ttl_seconds=3600), actor="tests")
    async with rt.db.transaction() as session:
        chat = (await get_chat(session, chat_id)).chat
        await close_chat(
            session, chat, reason="api", actor="tests", goodbye=False, templates=Templates()
        )
    async with rt.db.transaction() as session:
        await reopen_chat(session, chat_id, actor="tests")
    return chat_id


async def test_a_whole_chat_arrives_as_signed_events(runtime: Runtime, receiver: Receiver) -> None:
    endpoint, secret = await add_endpoint(runtime, receiver.url("/all"))
    receiver.verify_with("/all", secret)
    chat_id = await live_chat_history(runtime)
    await runtime.webhooks.ping(endpoint.public_id)
    await runtime.webhook_worker.drain()

    got = receiver.received
    assert got and all(r.verified for r in got), [r.error for r in got]
    assert {r.type for r in got} == {*INTEGRATION_TYPES, "ping"}
    assert len({r.headers["webhook-id"] for r in got}) == len(got)  # each event once
    for entry in got:
        assert entry.headers["webhook-id"] == entry.payload["id"]
        for number in REAL:
            assert number not in entry.body and number[1:] not in entry.body

    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in got:
        by_type.setdefault(entry.type, []).append(entry.payload["data"])
    [created] = by_type["chat.created"]
    assert created["chat"]["id"] == chat_id and len(created["chat"]["participants"]) == 2
    [closed] = by_type["chat.closed"]
    assert closed["reason"] == "api" and closed["chat"]["status"] == "closed"
    [extended], [reopened] = by_type["chat.extended"], by_type["chat.reopened"]
    assert extended["chat"]["ttl_seconds"] == 3600 and extended["chat"]["status"] == "active"
    assert reopened["chat"]["status"] == "active" and reopened["chat"]["closed_at"] is None
    # Who was removed before the close stays out; the others are back on their routes.
    assert [p["active"] for p in reopened["chat"]["participants"]] == [True, True, False]
    [said] = [m for m in by_type["message.received"] if m["text"] == "On my way"]
    assert said["chat_id"] == chat_id
    assert said["participant"]["name"] == "Rider"
    [stray] = by_type["message.unrouted"]
    assert stray["text"] == "Who is this?" and stray["sender"] == "+44770•••••99"
    updates = by_type["delivery.updated"]
    assert {u["status"] for u in updates} == {"queued", "sent", "delivered", "failed"}
    [failed] = [u for u in updates if u["reason"] == "Unknown handset"]
    assert (failed["reason"], failed["error_code"], failed["kind"]) == (
        "Unknown handset",
        "3",
        "forward",
    )
    assert failed["chat_id"] == chat_id and failed["participant_id"]
    [added], [removed] = by_type["participant.added"], by_type["participant.removed"]
    assert added["participant"]["id"] == removed["participant"]["id"]
    assert removed["participant"]["active"] is False
    assert len(by_type["message.held"]) == 2
    [released], [rejected] = by_type["message.released"], by_type["message.rejected"]
    assert released["recipients"] == 1 and released["chat_id"] == chat_id
    assert rejected["id"] != released["id"]
    [opted_out], [opted_in] = by_type["participant.opted_out"], by_type["participant.opted_in"]
    assert opted_out["number"] == opted_in["number"] == "+44770•••••02"
    assert opted_out["chat_id"] == chat_id and opted_out["keyword"] == "STOP"
    [ping] = by_type["ping"]
    assert ping["endpoint_id"] == endpoint.public_id


async def test_a_receiver_that_fails_then_recovers_gets_the_event(
    runtime: Runtime, receiver: Receiver
) -> None:
    endpoint, secret = await add_endpoint(runtime, receiver.url("/a"), ["chat.created"])
    receiver.verify_with("/a", secret)
    receiver.plan("/a", Answer(503), Answer(500))
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    worker = runtime.webhook_worker

    assert await worker.run_round() == 1
    [row] = await all_rows(runtime, WebhookDelivery)
    assert (row.status, row.attempts, row.last_status_code) == ("queued", 1, 503)
    assert row.next_attempt_at > utcnow() - timedelta(seconds=1)
    assert await worker.run_round() == 0  # not due yet: backoff
    [failing] = await all_rows(runtime, WebhookEndpoint)
    assert failing.failing_since is not None

    later = utcnow() + timedelta(hours=1)
    assert await worker.run_round(later) == 1
    assert await worker.run_round(later + timedelta(hours=1)) == 1
    [row] = await all_rows(runtime, WebhookDelivery)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 204)
    attempts = await all_rows(runtime, WebhookAttempt)
    assert [a.status_code for a in attempts] == [503, 500, 204]
    assert [r.answered for r in receiver.received] == [503, 500, 204]
    assert all(r.verified for r in receiver.received)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    [healthy] = await all_rows(runtime, WebhookEndpoint)
    assert healthy.failing_since is None and healthy.last_success_at is not None
    assert endpoint.public_id == healthy.public_id


async def slots_taken(receiver: Receiver, path: str, count: int) -> None:
    await asyncio.to_thread(receiver.wait_for, lambda got: len(receiver.on(path)) >= count)


async def test_a_flood_to_a_slow_endpoint_does_not_hold_up_another(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver.url("/slow"), ["chat.created"])
    await add_endpoint(runtime, receiver.url("/fast"), ["chat.created"])
    receiver.hold()
    receiver.always("/slow", Answer(hang=True))
    await add_numbers(runtime, P1)
    chats = 12
    for i in range(chats):
        await start_chat(runtime, (f"+4477009002{i:02d}", "A"), (f"+4477009003{i:02d}", "B"))
    worker = asyncio.create_task(runtime.run_webhooks())
    try:
        await asyncio.to_thread(receiver.wait_for, lambda got: len(receiver.on("/fast")) == chats)
        # Meanwhile the slow endpoint holds exactly its own slots, no more.
        held = receiver.on("/slow")
        assert len(held) == runtime.settings.webhook_concurrency
        assert all(r.answered is None for r in held)
        receiver.release()
        await asyncio.to_thread(
            receiver.wait_for,
            lambda got: sum(r.answered == 204 for r in receiver.on("/slow")) == chats,
        )
    finally:
        receiver.release()
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


@pytest.fixture
async def serving(database_url: str) -> AsyncIterator[Runtime]:
    """A runtime with its background loops running, as a server process has them."""
    rt = Runtime(make_settings(database_url, webhook_timeout_seconds=30), background=True)
    await rt.start()
    yield rt
    await rt.stop()


async def forwards_sent(rt: Runtime) -> int:
    async with rt.db.read() as session:
        rows = await session.exec(
            select(Delivery).where(
                col(Delivery.kind) == DeliveryKind.forward,
                col(Delivery.status).in_([DeliveryStatus.sent, DeliveryStatus.delivered]),
            )
        )
        return len(rows.all())


async def test_a_hanging_receiver_does_not_slow_forwarding(
    serving: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(serving, receiver.url("/slow"))
    receiver.hold()
    receiver.always("/slow", Answer(hang=True))
    await add_numbers(serving, P1)
    await start_chat(serving, (ALICE, "Rider"), (BOB, "Driver"))
    await slots_taken(receiver, "/slow", 1)  # the chat.created event, hanging
    texts = 10
    try:
        for i in range(texts):
            await text_from_handset(serving.db, serving.routing, ALICE, P1, f"message {i}")
        for _ in range(300):
            if await forwards_sent(serving) == texts:
                break
            await asyncio.sleep(0.05)
        assert await forwards_sent(serving) == texts
        # Every forward went out while every webhook request was still hanging.
        assert all(r.answered is None for r in receiver.on("/slow"))
    finally:
        receiver.release()


async def test_two_workers_never_claim_the_same_row(
    runtime: Runtime, settings: Any, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver.url("/a"), ["chat.created"])
    await add_numbers(runtime, P1)
    for i in range(8):
        await start_chat(runtime, (f"+4477009002{i:02d}", "A"), (f"+4477009003{i:02d}", "B"))
    other = Runtime(settings, background=False)
    await other.start()
    try:
        (mine, _), (theirs, _) = await asyncio.gather(
            runtime.webhook_worker.claim_round(), other.webhook_worker.claim_round()
        )
    finally:
        await other.stop()
    ids = [c.delivery.id for c in mine] + [c.delivery.id for c in theirs]
    assert len(ids) == len(set(ids)) == 2 * runtime.settings.webhook_concurrency


async def test_outcomes_that_finish_together_are_recorded_together(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver.url("/a"), ["chat.created"])
    await add_numbers(runtime, P1)
    for i in range(4):
        await start_chat(runtime, (f"+4477009002{i:02d}", "A"), (f"+4477009003{i:02d}", "B"))
    worker = runtime.webhook_worker
    claimed, _ = await worker.claim_round()
    outcomes = [
        Outcome(item.delivery.id or 0, item.delivery.attempts, AttemptResult(204, 3), Policy())
        for item in claimed
    ]
    statuses = await asyncio.gather(*(worker.recorder.record(o) for o in outcomes))
    assert statuses == ["delivered"] * 4
    # The first alone (nobody else was waiting yet), the other three in one transaction.
    assert worker.recorder.batches == 2
    assert len(await all_rows(runtime, WebhookAttempt)) == 4

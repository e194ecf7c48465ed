"""The integrations outbox is written with the change that caused each event, for the
endpoints that want it, from a list of endpoints that costs no query per SMS."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import select

from smsproxy import events
from smsproxy.integrations import endpoints
from smsproxy.integrations.endpoints import EndpointChanges
from smsproxy.integrations.subscriptions import Subscriber, Subscriptions
from smsproxy.models import Chat, EventRecord, WebhookDelivery, WebhookEndpoint
from smsproxy.runtime import Runtime
from tests.helpers import add_endpoint, add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"


async def rows(rt: Runtime) -> list[WebhookDelivery]:
    async with rt.db.read() as session:
        return list((await session.exec(select(WebhookDelivery))).all())


async def test_each_event_is_queued_for_each_subscribed_enabled_endpoint(
    runtime: Runtime,
) -> None:
    everything, _ = await add_endpoint(runtime, "https://a.example/hook")
    chats_only, _ = await add_endpoint(runtime, "https://b.example/hook", ["chat.created"])
    off, _ = await add_endpoint(runtime, "https://c.example/hook")
    async with runtime.db.transaction() as session:
        await endpoints.update_endpoint(
            session, off.public_id, EndpointChanges(enabled=False), actor="tests"
        )
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"), intro=True)

    queued = await rows(runtime)
    by_endpoint = {
        e.id: sorted(r.event_type for r in queued if r.endpoint_id == e.id)
        for e in (everything, chats_only, off)
    }
    assert by_endpoint[everything.id] == ["chat.created", "delivery.updated", "delivery.updated"]
    assert by_endpoint[chats_only.id] == ["chat.created"]
    assert by_endpoint[off.id] == []
    created = [r for r in queued if r.event_type == "chat.created"]
    # One event, one id, the same body for every endpoint.
    assert len({r.event_id for r in created}) == 1 and len({r.body for r in created}) == 1
    assert json.loads(created[0].body)["data"]["chat"]["id"] == view.chat.public_id


async def test_a_rolled_back_change_queues_nothing(runtime: Runtime) -> None:
    await add_endpoint(runtime, "https://a.example/hook")
    before = len(await rows(runtime))
    with pytest.raises(RuntimeError):
        async with runtime.db.transaction() as session:
            chat = Chat()
            session.add(chat)
            await session.flush()
            events.emit(session, events.ChatCreated(chat, []))
            raise RuntimeError("the change fails after its event")
    assert len(await rows(runtime)) == before
    async with runtime.db.read() as session:
        names = (await session.exec(select(EventRecord.name))).all()
    assert "chat.created" not in names


async def test_the_endpoint_list_is_read_once_and_reloaded_on_change(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    subscriptions = runtime.subscriptions
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    loads = subscriptions.loads
    await start_chat(runtime, ("+447700900103", "C"), ("+447700900104", "D"))
    assert subscriptions.loads == loads  # cached: no query for the second chat's events
    assert await rows(runtime) == []

    endpoint, _ = await add_endpoint(runtime, "https://a.example/hook")
    view = await start_chat(runtime, ("+447700900105", "E"), ("+447700900106", "F"))
    assert subscriptions.loads == loads + 1  # the new endpoint was heard of at once
    [row] = await rows(runtime)
    assert row.endpoint_id == endpoint.id and view.chat.public_id in row.body


async def test_a_list_a_moment_old_does_no_harm(runtime: Runtime, settings: object) -> None:
    """Another process has not heard of a deletion yet: the row it queues for the deleted
    endpoint commits with its SMS, and is never sent."""
    endpoint, _ = await add_endpoint(runtime, "https://a.example/hook")
    assert endpoint.id is not None
    stale = Subscriptions()
    async with runtime.db.read() as session:
        assert await stale.current(session) == [Subscriber(endpoint.id, ("*",))]
    async with runtime.db.transaction() as session:
        await endpoints.delete_endpoint(session, endpoint.public_id, actor="tests")
    runtime.subscriptions = stale  # as if this process missed the announcement
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    assert [r.event_type for r in await rows(runtime)] == ["chat.created"]
    assert await runtime.webhook_worker.drain() == 0
    async with runtime.db.read() as session:
        gone = await session.get(WebhookEndpoint, endpoint.id)
    assert gone is not None and gone.deleted_at is not None and gone.secret == ""


async def test_a_stale_list_is_reloaded_after_its_maximum_age(runtime: Runtime) -> None:
    now = [0.0]
    subscriptions = Subscriptions(max_age_seconds=30, clock=lambda: now[0])
    async with runtime.db.read() as session:
        assert await subscriptions.current(session) == []
    endpoint, _ = await add_endpoint(runtime, "https://a.example/hook")
    async with runtime.db.read() as session:
        assert await subscriptions.current(session) == []  # not heard of, not yet stale
        now[0] = 31.0
        assert [s.endpoint_id for s in await subscriptions.current(session)] == [endpoint.id]
    assert subscriptions.loads == 2


async def test_a_load_that_raced_a_change_is_not_kept(runtime: Runtime) -> None:
    subscriptions = Subscriptions()
    async with runtime.db.read() as session:
        reading = asyncio.ensure_future(subscriptions.current(session))
        await asyncio.sleep(0)  # the load is under way, waiting for the database
        subscriptions.invalidate()  # a change committed while the list was being read
        await reading
        loads = subscriptions.loads
        await subscriptions.current(session)
    assert subscriptions.loads == loads + 1


async def test_other_processes_hear_of_endpoint_changes_through_the_broker(
    runtime: Runtime, settings: object
) -> None:
    from smsproxy.config import Settings

    assert isinstance(settings, Settings)
    other = Runtime(settings, background=False)
    other.broker = runtime.broker  # one bus, as Redis makes it across processes
    await other.start()
    watcher = asyncio.create_task(other.watch_endpoints())
    try:
        async with other.db.read() as session:
            assert await other.subscriptions.current(session) == []
        await asyncio.sleep(0.05)  # the watcher is subscribed
        endpoint, _ = await add_endpoint(runtime, "https://a.example/hook")
        for _ in range(100):
            async with other.db.read() as session:
                found = await other.subscriptions.current(session)
            if found:
                break
            await asyncio.sleep(0.02)
        assert [s.endpoint_id for s in found] == [endpoint.id]
    finally:
        watcher.cancel()
        await other.stop()

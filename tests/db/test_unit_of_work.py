"""The unit of work under contention: writers queue in the process (SQLite), a wait
that runs too long is an error the caller can retry (503), and a unit of work that
would wait for itself is refused instead of hanging."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from quart import Quart
from quart.wrappers import Response
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import select

from smsproxy.app import create_app
from smsproxy.db import Database, DatabaseBusy, EngineOptions, NestedTransaction, is_unavailable
from smsproxy.models import ProxyNumber
from smsproxy.runtime import Runtime
from tests.conftest import USE_POSTGRES, make_settings

sqlite_only = pytest.mark.skipif(USE_POSTGRES, reason="SQLite's single writer is what is tested")


async def test_a_transaction_inside_a_transaction_is_refused(runtime: Runtime) -> None:
    db = runtime.db
    async with asyncio.timeout(10):  # it would otherwise wait for itself
        with pytest.raises(NestedTransaction, match="inside a transaction"):
            async with db.transaction() as session:
                session.add(ProxyNumber(number="+447700900100", country="GB"))
                async with db.transaction():
                    pass
        with pytest.raises(NestedTransaction):
            async with db.transaction(), db.read():
                pass

    async with db.read() as session:  # nothing of the refused work was kept
        assert (await session.exec(select(ProxyNumber))).all() == []


async def test_a_task_started_inside_a_transaction_may_open_its_own(runtime: Runtime) -> None:
    db = runtime.db

    async def later() -> None:
        async with db.transaction() as session:
            session.add(ProxyNumber(number="+447700900101", country="GB"))

    async with asyncio.timeout(10):
        async with db.transaction():
            task = asyncio.create_task(later())  # not the transaction's own task
        await task

    async with db.read() as session:
        assert len((await session.exec(select(ProxyNumber))).all()) == 1


@sqlite_only
async def test_writers_in_one_process_take_turns(database_url: str) -> None:
    db = Database(database_url)
    order: list[str] = []
    first_in = asyncio.Event()

    async def write(name: str, number: str) -> None:
        async with db.transaction() as session:
            order.append(f"{name} in")
            first_in.set()
            session.add(ProxyNumber(number=number, country="GB"))
            await asyncio.sleep(0.05)  # holds the turn across an await
            order.append(f"{name} out")

    try:
        first = asyncio.create_task(write("first", "+447700900102"))
        await first_in.wait()
        await asyncio.gather(first, write("second", "+447700900103"))
    finally:
        await db.dispose()

    assert order == ["first in", "first out", "second in", "second out"]


@sqlite_only
async def test_a_writer_that_waits_too_long_gets_a_retryable_error(database_url: str) -> None:
    db = Database(database_url, EngineOptions(timeout_seconds=0.2))
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with db.transaction():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    try:
        await holding.wait()
        async with asyncio.timeout(10):
            with pytest.raises(DatabaseBusy) as caught:
                async with db.transaction():
                    pass
    finally:
        release.set()
        await holder
        await db.dispose()

    assert is_unavailable(caught.value)  # answered 503, and the carrier retries


@sqlite_only
async def test_a_webhook_answers_503_while_another_process_holds_the_database(
    database_url: str, tmp_path: Path
) -> None:
    """Another process (here: a connection of its own) keeps SQLite's write lock: the
    webhook is refused within DATABASE_TIMEOUT_SECONDS, to be retried, not left hanging."""
    import sqlite3

    path = database_url.removeprefix("sqlite:///")
    app = create_app(make_settings(database_url, database_timeout_seconds=0.5), background=False)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        async with app.test_app(), asyncio.timeout(15):
            response = await post_inbound(app)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


async def post_inbound(app: Quart) -> Response:
    fields = {"msisdn": "447700900001", "to": "447700900901", "messageId": "M1", "text": "hi"}
    return await app.test_client().post("/webhooks/inbound-sms", form=fields)


def test_waiting_too_long_for_a_pooled_connection_is_unavailable() -> None:
    assert is_unavailable(PoolTimeout("QueuePool limit of size 5 overflow 5 reached"))

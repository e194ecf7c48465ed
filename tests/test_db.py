"""The database layer: readers on SQLite neither wait for writers nor write."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from smsproxy.models import ProxyNumber
from smsproxy.runtime import Runtime
from tests.conftest import USE_POSTGRES

sqlite_only = pytest.mark.skipif(USE_POSTGRES, reason="SQLite's locking is what is tested")


@sqlite_only
async def test_read_proceeds_while_a_write_transaction_is_open(runtime: Runtime) -> None:
    writing = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with runtime.db.transaction() as session:
            session.add(ProxyNumber(number="+447700900100", country="GB"))
            await session.flush()
            writing.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await writing.wait()
    # Holding the write lock must not stall a page: the reader sees the last commit.
    async with asyncio.timeout(5), runtime.db.read() as session:
        assert (await session.exec(select(ProxyNumber))).all() == []
    release.set()
    await task
    async with runtime.db.read() as session:
        assert len((await session.exec(select(ProxyNumber))).all()) == 1


@sqlite_only
async def test_read_session_refuses_to_write(runtime: Runtime) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        async with runtime.db.read() as session:
            session.add(ProxyNumber(number="+447700900101", country="GB"))
            await session.commit()


async def test_database_errors_do_not_carry_personal_data(runtime: Runtime) -> None:
    from sqlalchemy.exc import IntegrityError

    number = "+447700900555"
    async with runtime.db.transaction() as session:
        session.add(ProxyNumber(number=number, country="GB"))
    with pytest.raises(IntegrityError) as caught:
        async with runtime.db.transaction() as session:
            session.add(ProxyNumber(number=number, country="GB"))
    assert number not in str(caught.value)

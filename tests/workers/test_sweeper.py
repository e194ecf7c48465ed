"""The sweeper loop: expiry at every interval, retention when RETENTION_DAYS is set."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from smsproxy.db import utcnow
from smsproxy.models import Chat, ChatStatus
from smsproxy.proxy.chats import close_chat
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.runtime import Runtime
from smsproxy.workers.sweeper import run_sweeper
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"


async def closed_long_ago(rt: Runtime) -> ChatView:
    view = await start_chat(rt, ("+447700900101", "A"), ("+447700900102", "B"), intro=True)
    async with rt.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="t", goodbye=False, templates=rt.templates
        )
        await session.exec(
            update(Chat)
            .where(col(Chat.id) == chat.id)
            .values(closed_at=utcnow() - timedelta(days=40))
        )
    return view


async def expiring(rt: Runtime) -> ChatView:
    """A chat the sweeper closes at its first pass: proof that a pass ran."""
    view = await start_chat(rt, ("+447700900103", "C"), ("+447700900104", "D"))
    async with rt.db.transaction() as session:
        await session.exec(
            update(Chat)
            .where(col(Chat.id) == view.chat.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    return view


async def chat_row(rt: Runtime, view: ChatView) -> Chat:
    async with rt.db.read() as session:
        return (await session.exec(select(Chat).where(Chat.id == view.chat.id))).one()


@contextlib.asynccontextmanager
async def sweeping(rt: Runtime, retention_days: int | None) -> AsyncIterator[None]:
    task = asyncio.create_task(run_sweeper(rt.db, rt.templates, 0.01, retention_days))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the sweeper never got there"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("retention_days", [30, None])
async def test_the_sweeper_erases_old_texts_only_when_told(
    runtime: Runtime, retention_days: int | None
) -> None:
    await add_numbers(runtime, P1)
    old = await closed_long_ago(runtime)
    proof = await expiring(runtime)

    async with sweeping(runtime, retention_days):

        async def swept() -> bool:
            return (await chat_row(runtime, proof)).status == ChatStatus.closed

        await until(swept)
        if retention_days is not None:

            async def erased() -> bool:
                return (await chat_row(runtime, old)).bodies_erased_at is not None

            await until(erased)

    erased_at = (await chat_row(runtime, old)).bodies_erased_at
    assert (erased_at is not None) == (retention_days is not None)

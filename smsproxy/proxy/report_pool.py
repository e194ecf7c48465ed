"""The pool's part of the reports: how many proxy numbers carried chats in each bucket,
how large the pool was, and what it carries now (see report_queries for the buckets)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Chat, ChatStatus, Participant, ProxyNumber
from .report_queries import Window, bucket, integer


async def numbers_in_use(session: AsyncSession, window: Window) -> list[int]:
    """Distinct proxy numbers with a participant in a chat open during each bucket.

    Grouped by number and by the first and last bucket of the chat's span, so the
    rows are as many as numbers times distinct spans, never one per participant."""
    last = window.count - 1
    joined = col(Participant.created_at)
    closed = col(Chat.closed_at)
    first_slot = case((joined < window.start, 0), else_=bucket(session, joined, window))
    last_slot = case(
        (or_(closed.is_(None), closed >= window.end), integer(last)),
        else_=bucket(session, closed, window),
    )
    first_label, last_label = first_slot.label("first"), last_slot.label("last")
    spans = (
        select(col(Participant.proxy_number), first_label, last_label)
        .join(Chat, col(Chat.id) == col(Participant.chat_id))
        .where(
            joined < window.end,
            or_(col(Chat.status) == ChatStatus.active, closed >= window.start),
        )
        .subquery()
    )
    query = select(spans.c.proxy_number, spans.c.first, spans.c.last).group_by(
        spans.c.proxy_number, spans.c.first, spans.c.last
    )
    busy: list[set[str]] = [set() for _ in range(window.count)]
    for number, first, final in (await session.exec(query)).all():
        for index in range(max(int(first), 0), min(int(final), last) + 1):
            busy[index].add(number)
    return [len(numbers) for numbers in busy]


async def pool_sizes(session: AsyncSession, window: Window, starts: list[int]) -> list[int]:
    """Numbers in the pool at the end of each bucket (those added by then and not
    removed since: a removed number leaves no row to count)."""
    added = col(ProxyNumber.created_at)
    slot = case((added < window.start, -1), else_=bucket(session, added, window))
    query = select(slot, func.count()).where(added < window.end).group_by(slot)
    before = 0
    per_bucket = [0] * window.count
    for index, count in (await session.exec(query)).all():
        if int(index) < 0:
            before += int(count)
        elif int(index) < window.count:
            per_bucket[int(index)] += int(count)
    sizes, running = [], before
    for added_here in per_bucket:
        running += added_here
        sizes.append(running)
    return sizes


@dataclass(frozen=True)
class PoolNow:
    numbers: int
    enabled: int
    carrying: int  # with at least one active chat (proxy.load's counters)


async def pool_now(session: AsyncSession) -> PoolNow:
    """The pool at this moment, from the counters allocation reads."""
    query = select(
        func.count(),
        func.sum(case((col(ProxyNumber.enabled), 1), else_=0)),
        func.sum(case((col(ProxyNumber.active_chats) > 0, 1), else_=0)),
    )
    numbers, enabled, carrying = (await session.exec(query)).one()
    return PoolNow(int(numbers or 0), int(enabled or 0), int(carrying or 0))

"""Chat expiry: a sweeper closes chats past their absolute expiry or idle TTL."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_
from sqlmodel import col, select

from ..db import utcnow
from ..models import Chat, ChatStatus
from .chats import ChatView, Templates, close_chat

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)


def templates_of(runtime: Runtime) -> Templates:
    return Templates(
        intro=runtime.settings.intro_template, goodbye=runtime.settings.goodbye_template
    )


async def close_expired(runtime: Runtime, now: datetime | None = None, batch: int = 100) -> int:
    """Close every chat whose expiry has passed; returns how many this call closed.

    Safe to run in several processes at once: closing is a conditional update, so a
    chat another sweeper already closed is skipped.
    """
    now = now or utcnow()
    closed = 0
    while True:
        async with runtime.db.transaction() as session:
            due = (
                await session.exec(
                    select(Chat)
                    .where(
                        Chat.status == ChatStatus.active,
                        or_(col(Chat.expires_at) <= now, col(Chat.idle_expires_at) <= now),
                    )
                    .order_by(col(Chat.id))
                    .limit(batch)
                )
            ).all()
            for chat in due:
                if await close_chat(
                    session,
                    chat,
                    reason="expired",
                    actor="system:sweeper",
                    goodbye=True,
                    templates=templates_of(runtime),
                ):
                    closed += 1
        if len(due) < batch:
            break
    if closed:
        log.info("closed %d expired chat(s)", closed)
    return closed


async def run_sweeper(runtime: Runtime) -> None:
    while True:
        try:
            await close_expired(runtime)
        except Exception:
            log.exception("expiry sweep failed; trying again next interval")
        await asyncio.sleep(runtime.settings.sweep_interval_seconds)


__all__ = ["ChatView", "close_expired", "run_sweeper", "templates_of"]

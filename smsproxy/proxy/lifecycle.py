"""Chat expiry: close every chat past its absolute expiry or idle TTL."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import col, select

from ..db import Database, utcnow
from ..models import Chat, ChatStatus
from .chats import Templates, close_chat

log = logging.getLogger(__name__)


async def close_expired(
    db: Database, templates: Templates, now: datetime | None = None, batch: int = 100
) -> int:
    """Close every chat whose expiry has passed; returns how many this call closed.

    Safe to run in several processes at once: closing is a conditional update, so a
    chat another sweeper already closed is skipped.
    """
    now = now or utcnow()
    closed = 0
    while True:
        async with db.transaction() as session:
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
                    templates=templates,
                ):
                    closed += 1
        if len(due) < batch:
            break
    if closed:
        log.info("closed %d expired chat(s)", closed)
    return closed

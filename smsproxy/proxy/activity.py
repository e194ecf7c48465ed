"""A chat's activity (last_activity_at, the idle expiry it moves, and since when a
participant's text waits for staff), written once per transaction rather than once per
SMS.

Every routed SMS touches its chat. In a group commit, a burst of SMS to one chat would
update the chat's row once each, and on PostgreSQL hold that row's lock from the first
SMS to the commit, so that other processes' batches for the chat wait for the whole
batch. Here the change is kept in memory and written in one statement just before the
commit: one update per chat, and the row lock held only for the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import before_commit
from ..models import Chat

_TOUCHED_KEY = "smsproxy.touched_chats"


def touch_at_commit(session: AsyncSession, chat: Chat, now: datetime) -> None:
    """Record a participant's text in `chat`: activity as `chats.touch` records it, and
    the chat waits for a staff reply from `now` unless it already waited. Written just
    before commit."""
    idle_expires_at = chat.idle_expires_at
    if chat.idle_ttl_seconds:
        idle_expires_at = now + timedelta(seconds=chat.idle_ttl_seconds)
    # The loaded object shows the activity at once, without the ORM flushing it.
    set_committed_value(chat, "last_activity_at", now)
    set_committed_value(chat, "idle_expires_at", idle_expires_at)
    if chat.awaiting_since is None:
        set_committed_value(chat, "awaiting_since", now)
    touched: dict[int, dict[str, Any]] = session.info.setdefault(_TOUCHED_KEY, {})
    assert chat.id is not None
    touched[chat.id] = {"b_id": chat.id, "b_at": now, "b_idle": idle_expires_at}
    before_commit(session, _TOUCHED_KEY, _write)


_TABLE = Chat.__table__  # type: ignore[attr-defined]
# Only forward: a concurrent transaction may have recorded later activity already.
_UPDATE = (
    _TABLE.update()
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.last_activity_at < bindparam("b_at"))
    .values(
        last_activity_at=bindparam("b_at"),
        idle_expires_at=bindparam("b_idle"),
        awaiting_since=func.coalesce(_TABLE.c.awaiting_since, bindparam("b_at")),
    )
)


async def _write(session: AsyncSession) -> None:
    touched: dict[int, dict[str, Any]] = session.info.pop(_TOUCHED_KEY, {})
    if touched:
        connection = await session.connection()
        await connection.execute(_UPDATE, list(touched.values()))

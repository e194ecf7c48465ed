"""Retention (RETENTION_DAYS): texts are erased once they are old enough.

What people wrote goes; who wrote to whom, when, and what became of each SMS stays.
Erased are: the messages of chats closed more than N days ago (what participants,
staff and the system wrote, held and redacted texts alike), the SMS they caused and
staff's private notes on them,
unrouted texts older than N days and their replies, the bodies in the event log,
buffered parts of long SMS, the sandbox's simulated SMS, and the API's idempotency
replays (which repeat what they answered). Each step is a batch in its own short
transaction, and several processes may sweep at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import Database, utcnow
from ..models import (
    Chat,
    ChatStatus,
    Delivery,
    EventRecord,
    IdempotencyRecord,
    InboundPart,
    Message,
    SandboxSms,
)
from .notes import erase_notes

log = logging.getLogger(__name__)

# Events whose payload repeats a message's text.
BODY_EVENTS = ("message.created",)


@dataclass
class Erased:
    chats: int = 0
    unrouted: int = 0
    other_rows: int = 0  # parts, sandbox SMS, idempotency replays, unrouted events

    @property
    def total(self) -> int:
        return self.chats + self.unrouted + self.other_rows


async def erase_old_texts(
    db: Database, days: int, now: datetime | None = None, batch: int = 100
) -> Erased:
    """Erase what RETENTION_DAYS says is too old; returns what was erased this time."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    erased = Erased()
    while (done := await _erase_closed_chats(db, cutoff, now, batch)) > 0:
        erased.chats += done
        if done < batch:
            break
    while (done := await _erase_unrouted(db, cutoff, now, batch)) > 0:
        erased.unrouted += done
        if done < batch:
            break
    erased.other_rows = await _erase_the_rest(db, cutoff)
    if erased.total:
        log.info(
            "retention: erased the texts of %d chat(s) and %d unrouted SMS (%d other rows)",
            erased.chats,
            erased.unrouted,
            erased.other_rows,
        )
    return erased


async def _erase_closed_chats(db: Database, cutoff: datetime, now: datetime, batch: int) -> int:
    async with db.transaction() as session:
        chats = list(
            (
                await session.exec(
                    select(Chat)
                    .where(
                        col(Chat.bodies_erased_at).is_(None),
                        col(Chat.status) == ChatStatus.closed,
                        col(Chat.closed_at) <= cutoff,
                    )
                    .order_by(col(Chat.closed_at))
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        if not chats:
            return 0
        ids = [chat.id for chat in chats]
        await session.exec(
            update(Message)
            .where(col(Message.chat_id).in_(ids), col(Message.erased_at).is_(None))
            .values(body="", erased_at=now)
        )
        await session.exec(update(Delivery).where(col(Delivery.chat_id).in_(ids)).values(body=""))
        await erase_notes(session, ids, now)
        await erase_event_bodies(session, [chat.public_id for chat in chats])
        for chat in chats:
            chat.bodies_erased_at = now
            session.add(chat)
    return len(chats)


async def erase_event_bodies(session: AsyncSession, chat_public_ids: list[str]) -> None:
    """Empty the text in these chats' events (the rest of each event stays)."""
    rows = (
        await session.exec(
            select(EventRecord).where(
                col(EventRecord.chat_public_id).in_(chat_public_ids),
                col(EventRecord.name).in_(BODY_EVENTS),
            )
        )
    ).all()
    for row in rows:
        if row.payload.get("body"):
            # A new dict: the JSON column notices replacement, not changes in place.
            row.payload = {**row.payload, "body": ""}
            session.add(row)


async def _erase_unrouted(db: Database, cutoff: datetime, now: datetime, batch: int) -> int:
    async with db.transaction() as session:
        ids = list(
            (
                await session.exec(
                    select(Message.id)
                    .where(
                        col(Message.erased_at).is_(None),
                        col(Message.created_at) <= cutoff,
                        col(Message.chat_id).is_(None),
                    )
                    .limit(batch)
                )
            ).all()
        )
        if not ids:
            return 0
        await session.exec(
            update(Message).where(col(Message.id).in_(ids)).values(body="", erased_at=now)
        )
        await session.exec(
            update(Delivery).where(col(Delivery.message_id).in_(ids)).values(body="")
        )
    return len(ids)


async def _erase_the_rest(db: Database, cutoff: datetime) -> int:
    async with db.transaction() as session:
        results = [
            # Unrouted texts' events: chat-less, so no chat to find them by, and of no use
            # to a page this old; removed rather than rescanned at every sweep.
            await session.exec(
                delete(EventRecord).where(
                    col(EventRecord.chat_public_id).is_(None),
                    col(EventRecord.name).in_(BODY_EVENTS),
                    col(EventRecord.created_at) <= cutoff,
                )
            ),
            await session.exec(delete(InboundPart).where(col(InboundPart.received_at) <= cutoff)),
            await session.exec(
                update(SandboxSms)
                .where(col(SandboxSms.created_at) <= cutoff, col(SandboxSms.body) != "")
                .values(body="")
            ),
            await session.exec(
                delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) <= cutoff)
            ),
        ]
    return sum(max(result.rowcount, 0) for result in results)

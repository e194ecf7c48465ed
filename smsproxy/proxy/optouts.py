"""Opt-outs per real number, across the whole pool.

A person who texts STOP to any proxy number (or whose carrier reports them opted out)
gets no SMS from any proxy number until they text START: an `OptOut` row per real
number, not per route. Three places honour it: chat creation marks the participant,
fan-out and the route query mark their SMS suppressed, and the outbox claim suppresses
whatever was queued before (so nothing queued earlier slips out). The confirmations
themselves (keyword replies) are the one kind of SMS still sent to an opted-out number.

An erased number's opt-out is kept as a hash (`optout_hashes`) and becomes a plain row
again when the number comes back.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import insert_for
from ..errors import InvalidInput
from ..models import (
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    ErasedOptOut,
    OptOut,
    Participant,
)
from ..outbox.enqueue import OPTED_OUT, emit_update, suppressed
from ..phone import mask
from . import audit
from .optout_hashes import any_erased, erased_match, restore_erased

log = logging.getLogger(__name__)


async def opt_out(
    session: AsyncSession,
    number: str,
    *,
    source: str,
    now: datetime,
    keyword: str | None = None,
    proxy_number: str | None = None,
) -> bool:
    """Opt a real number out of every proxy number. False when it already was."""
    table = OptOut.__table__  # type: ignore[attr-defined]
    statement = (
        insert_for(session)(table)
        .values(
            number=number, source=source, keyword=keyword, proxy_number=proxy_number, created_at=now
        )
        .on_conflict_do_nothing(index_elements=[table.c.number])
        .returning(table.c.id)
    )
    if (await session.exec(statement)).first() is None:
        return False
    change = _Change(number, source, keyword, proxy_number, now)
    chats = await _mark_participants(session, change, opted_out=True)
    await _suppress_queued(session, number, now)
    audit.record(
        session,
        actor="carrier" if source == "carrier" else "sms",
        action="participant.opt_out",
        target=mask(number),
        detail={
            "source": source,
            "keyword": keyword,
            "proxy_number": proxy_number,
            "chats": chats,
        },
    )
    log.info("a number opted out (%s) in %d active chat(s)", source, chats)
    return True


async def opt_in(
    session: AsyncSession,
    number: str,
    *,
    now: datetime,
    keyword: str | None = None,
    proxy_number: str | None = None,
) -> bool:
    """Undo an opt-out (START). False when the number was not opted out."""
    removed = (
        await session.exec(
            delete(OptOut).where(col(OptOut.number) == number).returning(col(OptOut.id))
        )
    ).first()
    erased = await erased_match(session, number)
    if erased is not None:
        await session.delete(erased)
    if removed is None and erased is None:
        return False
    change = _Change(number, "keyword", keyword, proxy_number, now)
    chats = await _mark_participants(session, change, opted_out=False)
    audit.record(
        session,
        actor="sms",
        action="participant.opt_in",
        target=mask(number),
        detail={"keyword": keyword, "proxy_number": proxy_number, "chats": chats},
    )
    log.info("a number opted in again in %d active chat(s)", chats)
    return True


@dataclass
class OptOutPage:
    rows: list[OptOut]
    erased: int  # erased numbers whose opt-out is kept as a hash
    next_cursor: str | None


async def list_opt_outs(
    session: AsyncSession, *, cursor: str | None = None, limit: int = 50
) -> OptOutPage:
    """Newest first, a page at a time."""
    query = select(OptOut).order_by(col(OptOut.id).desc()).limit(limit + 1)
    if cursor:
        query = query.where(col(OptOut.id) < _decode_cursor(cursor))
    rows = list((await session.exec(query)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].id or 0)
    erased = (await session.exec(select(func.count()).select_from(ErasedOptOut))).one()
    return OptOutPage(rows, erased, next_cursor)


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"o{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if not re.fullmatch(r"o[0-9]{1,18}", raw):
        raise InvalidInput("cursor is not one this API returned", field="cursor")
    return int(raw[1:])


async def opted_out_among(session: AsyncSession, numbers: Iterable[str]) -> set[str]:
    """Which of these real numbers are opted out (restoring erased opt-outs they match)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return set()
    query = select(OptOut.number).where(col(OptOut.number).in_(wanted))
    found = set((await session.exec(query)).all())
    missing = [number for number in wanted if number not in found]
    if missing and await any_erased(session):
        found.update([number for number in missing if await restore_erased(session, number)])
    return found


async def is_opted_out(session: AsyncSession, number: str) -> bool:
    return bool(await opted_out_among(session, [number]))


@dataclass(frozen=True)
class _Change:
    number: str
    source: str
    keyword: str | None
    proxy_number: str | None
    at: datetime

    def event(
        self, opted_out: bool, chat_id: str | None, participant: Participant | None
    ) -> events.ParticipantOptedOut | events.ParticipantOptedIn:
        kind = events.ParticipantOptedOut if opted_out else events.ParticipantOptedIn
        return kind(
            number=self.number,
            chat_id=chat_id,
            participant=participant,
            source=self.source,
            keyword=self.keyword,
            proxy_number=self.proxy_number,
            at=self.at,
        )


async def _mark_participants(session: AsyncSession, change: _Change, *, opted_out: bool) -> int:
    """Set the flag on every participant row of the number (pages and the API show it)
    and tell each active chat; returns how many active chats heard of it."""
    rows = (
        await session.exec(
            select(Participant, Chat)
            .join(Chat, col(Chat.id) == Participant.chat_id)
            .where(col(Participant.real_number) == change.number)
        )
    ).all()
    told = 0
    for participant, chat in rows:
        if participant.opted_out != opted_out:
            participant.opted_out = opted_out
            session.add(participant)
        if participant.active and chat.status == ChatStatus.active:
            told += 1
            events.emit(session, change.event(opted_out, chat.public_id, participant))
    if not told:
        events.emit(session, change.event(opted_out, None, None))
    return told


async def _suppress_queued(session: AsyncSession, number: str, now: datetime) -> None:
    """SMS already queued to the number are never sent (the claim would stop them too;
    doing it now shows it on the pages at once)."""
    rows = (
        await session.exec(
            select(Delivery)
            .where(
                col(Delivery.to_number) == number,
                col(Delivery.status) == DeliveryStatus.queued,
                col(Delivery.kind) != DeliveryKind.keyword_reply,
            )
            .with_for_update()
        )
    ).all()
    for row in rows:
        suppressed(row, OPTED_OUT)
        row.updated_at = now
        session.add(row)
        await emit_update(session, row)

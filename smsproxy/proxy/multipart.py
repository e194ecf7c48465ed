"""Multipart SMS: parts wait in the database until the whole message is here (rule 5).

A long SMS reaches us as separate webhooks (concat-ref, concat-total, concat-part) in
any order, possibly on different processes. Each part is stored as an InboundPart; the
part that completes a set reassembles it and routes it as one message, marking the
parts forwarded in the same transaction. Sets that never complete are forwarded as
received by the flusher once `concat_timeout_seconds` have passed since their first part.
Forwarded parts are kept for FORWARDED_RETENTION, so a carrier's retry of any part of a
set already sent on is recognised as a duplicate rather than stored as a new fragment.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..carrier import InboundSms
from ..db import Database, utcnow
from ..models import InboundPart
from .recording import is_recorded, recorded_whole
from .routing import Outcome, Route, RoutingOptions, route

log = logging.getLogger(__name__)

MISSING_PART = "[…]"
FORWARDED_RETENTION = timedelta(hours=24)
_LOCK_NAMESPACE = 0x534D53  # "SMS": keeps these advisory locks apart from anyone else's


async def receive_part(
    session: AsyncSession,
    inbound: InboundSms,
    options: RoutingOptions,
    now: datetime | None = None,
) -> Outcome:
    """Store one part; when it completes its set, route the reassembled message."""
    assert inbound.concat_ref is not None and inbound.concat_total and inbound.concat_part
    now = now or utcnow()
    await _lock_set(session, inbound.sender, inbound.to, inbound.concat_ref)
    if await _part_stored(session, inbound.carrier_message_id) or await is_recorded(
        session, inbound.carrier_message_id
    ):
        log.info("part %s was already received: a retry", inbound.carrier_message_id)
        return Outcome(Route.duplicate)
    if not await _store_part(session, inbound, now):
        return Outcome(Route.duplicate)
    parts = await _parts_of(session, inbound.sender, inbound.to, inbound.concat_ref)
    present = {p.part_number for p in parts}
    if not present.issuperset(range(1, inbound.concat_total + 1)):
        log.info(
            "part %d/%d of a multipart SMS buffered", inbound.concat_part, inbound.concat_total
        )
        return Outcome(Route.buffered)
    return await _route_set(session, parts, options, now)


async def _store_part(session: AsyncSession, inbound: InboundSms, now: datetime) -> bool:
    """Keep one part of its set; False when that part is already there."""
    assert inbound.concat_ref is not None and inbound.concat_total and inbound.concat_part
    # A forwarded part in this slot under another message id means the handset has
    # reused the concat-ref for a new message: the old part gives way to the new one.
    await session.exec(
        delete(InboundPart).where(
            col(InboundPart.sender_number) == inbound.sender,
            col(InboundPart.proxy_number) == inbound.to,
            col(InboundPart.concat_ref) == inbound.concat_ref,
            col(InboundPart.part_number) == inbound.concat_part,
            col(InboundPart.forwarded_at).is_not(None),
        )
    )
    part = InboundPart(
        sender_number=inbound.sender,
        proxy_number=inbound.to,
        concat_ref=inbound.concat_ref,
        part_number=inbound.concat_part,
        total_parts=inbound.concat_total,
        carrier_message_id=inbound.carrier_message_id,
        body=inbound.text,
        received_at=now,
        carrier_received_at=inbound.received_at,
    )
    try:
        async with session.begin_nested():
            session.add(part)
            await session.flush()
    except IntegrityError:
        # The same part under another message id, or a concurrent retry: keep the first.
        log.info("part %s of a set is already stored", inbound.carrier_message_id)
        return False
    return True


def reassemble(parts: Sequence[InboundPart]) -> str:
    """The parts' text in order, with a marker where a part never arrived."""
    by_number = {p.part_number: p.body for p in parts}
    total = max([p.total_parts for p in parts] + list(by_number))
    return "".join(by_number.get(n, MISSING_PART) for n in range(1, total + 1))


async def _claim_set(session: AsyncSession, parts: Sequence[InboundPart], now: datetime) -> bool:
    """Mark the set's parts forwarded; False when another process took the set first
    (its message is the one that counts)."""
    ids = [p.id for p in parts]
    async with session.begin_nested() as nested:
        result = await session.exec(
            update(InboundPart)
            .where(col(InboundPart.id).in_(ids), col(InboundPart.forwarded_at).is_(None))
            .values(forwarded_at=now)
        )
        if result.rowcount != len(ids):
            await nested.rollback()
            return False
    return True


async def _route_set(
    session: AsyncSession, parts: Sequence[InboundPart], options: RoutingOptions, now: datetime
) -> Outcome:
    if not await _claim_set(session, parts, now):
        return Outcome(Route.duplicate)
    first = min(parts, key=lambda p: p.part_number)
    whole = InboundSms(
        sender=first.sender_number,
        to=first.proxy_number,
        # The lowest part's id: stable across retries, and unique, unlike concat-ref,
        # which handsets reuse after a few hundred long messages.
        carrier_message_id=first.carrier_message_id,
        text=reassemble(parts),
        received_at=min(p.carrier_received_at or p.received_at for p in parts),
        # Parts come only through the SMS API: the Messages API hands a long SMS over
        # whole. Saying so lets a twin of it in that format be recognised.
        carrier_api="sms",
    )
    return await route(session, whole, options, now)


async def flush_expired(
    db: Database,
    options: RoutingOptions,
    max_age: timedelta,
    now: datetime | None = None,
    batch: int = 100,
) -> int:
    """Forward, as received, every set whose first part is older than `max_age`, and
    forget the parts forwarded more than FORWARDED_RETENTION ago.

    Each set goes in its own transaction, so one bad set does not hold up the rest, and
    several processes may flush at once: the set's lock and the conditional delete let
    exactly one of them forward it.
    """
    now = now or utcnow()
    cutoff = now - max_age
    async with db.transaction() as session:
        await session.exec(
            delete(InboundPart).where(col(InboundPart.forwarded_at) <= now - FORWARDED_RETENTION)
        )
    due = await _sets_waiting_since(db, cutoff, batch)
    flushed = 0
    for sender, proxy_number, ref in due:
        try:
            async with db.transaction() as session:
                await _lock_set(session, sender, proxy_number, ref)
                parts = await _parts_of(session, sender, proxy_number, ref)
                if not parts or min(p.received_at for p in parts) > cutoff:
                    continue
                if await _came_whole(session, parts):
                    await _claim_set(session, parts, now)
                    continue
                outcome = await _route_set(session, parts, options, now)
        except Exception:
            log.exception("forwarding an incomplete multipart SMS failed; retrying later")
            continue
        if outcome.route != Route.duplicate:
            flushed += 1
            log.info("forwarded an incomplete multipart SMS (%d part(s) arrived)", len(parts))
    return flushed


async def _came_whole(session: AsyncSession, parts: Sequence[InboundPart]) -> bool:
    """Whether the SMS these parts belong to came whole meanwhile, in the Messages API's
    format (an account switching APIs while the parts were arriving): then its parts
    are not forwarded a second time as a fragment."""
    first = parts[0]
    at = min(p.carrier_received_at or p.received_at for p in parts)
    if not await recorded_whole(
        session, first.sender_number, first.proxy_number, [p.body for p in parts], at
    ):
        return False
    log.info(
        "an incomplete multipart SMS (%d part(s)) came whole through the Messages API; "
        "its parts are not forwarded",
        len(parts),
    )
    return True


async def _sets_waiting_since(
    db: Database, cutoff: datetime, batch: int
) -> list[tuple[str, str, str]]:
    """(sender, proxy number, concat-ref) of unforwarded sets whose first part came in
    at or before `cutoff`."""
    async with db.read() as session:
        rows = (
            await session.exec(
                select(InboundPart.sender_number, InboundPart.proxy_number, InboundPart.concat_ref)
                .where(col(InboundPart.forwarded_at).is_(None))
                .group_by(
                    col(InboundPart.sender_number),
                    col(InboundPart.proxy_number),
                    col(InboundPart.concat_ref),
                )
                .having(func.min(InboundPart.received_at) <= cutoff)
                .limit(batch)
            )
        ).all()
    return [(sender, proxy, ref) for sender, proxy, ref in rows]


async def _parts_of(
    session: AsyncSession, sender: str, proxy_number: str, ref: str
) -> list[InboundPart]:
    query = (
        select(InboundPart)
        .where(
            InboundPart.sender_number == sender,
            InboundPart.proxy_number == proxy_number,
            InboundPart.concat_ref == ref,
            col(InboundPart.forwarded_at).is_(None),
        )
        .order_by(col(InboundPart.part_number))
    )
    return list((await session.exec(query)).all())


async def _part_stored(session: AsyncSession, carrier_message_id: str) -> bool:
    query = select(InboundPart.id).where(InboundPart.carrier_message_id == carrier_message_id)
    return (await session.exec(query)).first() is not None


async def _lock_set(session: AsyncSession, sender: str, proxy_number: str, ref: str) -> None:
    """Serialise work on one set until the transaction ends, so two parts arriving on
    two processes at once cannot each miss the other and leave a complete set waiting.

    PostgreSQL: a transaction-scoped advisory lock. SQLite needs none: BEGIN IMMEDIATE
    already lets one writer in at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{sender}|{proxy_number}|{ref}".encode()).digest()
    key = int.from_bytes(digest[:4], "big", signed=True)
    await session.exec(  # type: ignore[call-overload]
        text("SELECT pg_advisory_xact_lock(:namespace, :key)").bindparams(
            namespace=_LOCK_NAMESPACE, key=key
        )
    )

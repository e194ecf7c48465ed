"""Automatic replies: "this conversation has ended", and the answers to STOP, START
and HELP.

Each is an SMS the service sends on its own to whoever wrote in, so forged webhooks
could make it text any number (SMS pumping, paid by the operator). Two bounds hold:
per sender and proxy number (an ended reply at most once a day), and overall (at most
AUTO_REPLIES_PER_HOUR in any hour, across every sender). A reply past the overall bound
is recorded, suppressed, and never sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import insert_for
from ..models import Delivery, DeliveryKind, DeliveryStatus, EndedNotice, Message
from ..outbox.enqueue import OPTED_OUT, enqueue, suppressed
from .optouts import is_opted_out

log = logging.getLogger(__name__)

ENDED_REPLY_EVERY = timedelta(hours=24)
AUTO_KINDS = (DeliveryKind.ended_reply, DeliveryKind.keyword_reply)
OVER_BUDGET = (
    "Not sent: the automatic replies of the last hour reached AUTO_REPLIES_PER_HOUR "
    "(a bound against forged texts making the service send SMS)"
)
_BUDGET_LOCK = 0x5350_4152  # any constant: serialises the hourly count on PostgreSQL


async def queue_auto_reply(
    session: AsyncSession,
    *,
    kind: DeliveryKind,
    message: Message,
    from_number: str,
    to_number: str,
    body: str,
    per_hour: int,
    now: datetime,
    chat_public_id: str | None = None,
    participant_id: int | None = None,
) -> Delivery:
    """Queue one automatic reply to a text, or record it suppressed when the hourly
    bound is reached (or, for an ended reply, when the number opted out: keyword
    replies are the confirmations an opted-out number still gets)."""
    delivery = Delivery(
        kind=kind,
        message_id=message.id,
        chat_id=message.chat_id,
        participant_id=participant_id,
        from_number=from_number,
        to_number=to_number,
        body=body,
        created_at=now,
        updated_at=now,
    )
    if kind == DeliveryKind.ended_reply and await is_opted_out(session, to_number):
        suppressed(delivery, OPTED_OUT)
    elif not await within_hourly_budget(session, per_hour, now):
        log.warning("automatic reply not sent: AUTO_REPLIES_PER_HOUR (%d) reached", per_hour)
        suppressed(delivery, OVER_BUDGET)
    return await enqueue(
        session, delivery, chat_public_id=chat_public_id, message_public_id=message.public_id
    )


async def within_hourly_budget(session: AsyncSession, per_hour: int, now: datetime) -> bool:
    """Whether fewer than `per_hour` automatic replies went out (or are queued) in the
    hour before `now`."""
    if per_hour <= 0:
        return False
    if session.get_bind().dialect.name == "postgresql":
        # Held to commit, so two processes cannot both take the last reply of the hour
        # (SQLite already lets one writer in at a time).
        await session.exec(  # type: ignore[call-overload]
            text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_BUDGET_LOCK)
        )
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(
            col(Delivery.kind).in_(AUTO_KINDS),
            col(Delivery.created_at) > now - timedelta(hours=1),
            col(Delivery.status) != DeliveryStatus.suppressed,
        )
    )
    return (await session.exec(query)).one() < per_hour


async def claim_ended_notice(
    session: AsyncSession, sender: str, proxy_number: str, now: datetime, every: timedelta
) -> bool:
    """Check-and-set in one statement: True when no ended reply went to this sender on
    this number within `every`, and records that one goes now.

    An upsert whose update only happens when the last notice is old enough: of two
    processes racing, the second waits on the row and then finds it fresh.
    """
    table = EndedNotice.__table__  # type: ignore[attr-defined]
    statement = (
        insert_for(session)(table)
        .values(sender_number=sender, proxy_number=proxy_number, sent_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.sender_number, table.c.proxy_number],
            set_={"sent_at": now},
            where=table.c.sent_at <= now - every,
        )
        .returning(table.c.sent_at)
    )
    result = await session.exec(statement)
    return result.first() is not None

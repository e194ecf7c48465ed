"""The counting behind the reports: one GROUP BY per chart, on indexed time columns.

A row's bucket is its whole seconds since the period's start, divided by the bucket's
width: integer arithmetic on Unix seconds, identical on SQLite (strftime('%s'), which
reads the stored UTC text) and PostgreSQL (EXTRACT(EPOCH) of a timestamptz), so a row
at exactly 10:00:00 falls in the 10:00 bucket on both. The period's start and width
are written into the statement as integer literals (never text from a request), so
that PostgreSQL sees the same expression in SELECT and GROUP BY.

Delay percentiles are nearest-rank (the value at rank ceil(p·n)) over a histogram of
delays in hundredths of a second, counted by the database: exact at the precision
shown, and a bucket's thousands of delays never leave the database one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, extract, func, literal_column, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import (
    AuditEvent,
    AuthorKind,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    Screening,
)
from ..outbox.failures import ERROR_TEXT

FAILED = (DeliveryStatus.failed, DeliveryStatus.rejected, DeliveryStatus.expired)
HELD_STATES = (Screening.held, Screening.released, Screening.rejected)
OPT_ACTIONS = ("participant.opt_out", "participant.opt_in")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    width: int  # seconds
    count: int  # buckets


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def integer(value: int) -> Any:
    return literal_column(str(int(value)), Integer)


def _seconds(session: AsyncSession, column: Any) -> Any:
    """Unix seconds of a time column (whole seconds on SQLite, exact on PostgreSQL):
    either way its floor is the second the time falls in."""
    if _postgres(session):
        return extract("epoch", column)
    # The stored text is "YYYY-MM-DD HH:MM:SS.ffffff": SQLite's own parsing would round
    # 13:59:59.9999 up to 14:00, so the fraction is cut off first.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)


def bucket(session: AsyncSession, column: Any, window: Window) -> Any:
    """The bucket number (0 for the first) of a time at or after the window's start."""
    since = _seconds(session, column) - integer(int(window.start.timestamp()))
    if _postgres(session):
        return cast(func.floor(since / integer(window.width)), Integer)
    return since // integer(window.width)


def _within(column: Any, window: Window) -> Any:
    return and_(column >= window.start, column < window.end)


def _spread(rows: Sequence[Any], count: int) -> list[int]:
    values = [0] * count
    for index, value in rows:
        if index is not None and 0 <= int(index) < count:
            values[int(index)] += int(value or 0)
    return values


async def inbound_counts(session: AsyncSession, window: Window) -> list[int]:
    """Texts that reached a proxy number (routed or not), per bucket."""
    slot = bucket(session, col(Message.created_at), window)
    query = (
        select(slot, func.count())
        .where(
            _within(col(Message.created_at), window),
            col(Message.author_kind).in_([AuthorKind.participant, AuthorKind.unrouted]),
        )
        .group_by(slot)
    )
    return _spread((await session.exec(query)).all(), window.count)


@dataclass(frozen=True)
class Outbound:
    sent: int = 0  # accepted by the carrier (whatever happened next)
    delivered: int = 0


async def outbound_counts(session: AsyncSession, window: Window) -> list[Outbound]:
    """SMS queued in each bucket: how many the carrier accepted, and delivered."""
    slot = bucket(session, col(Delivery.created_at), window)
    delivered = col(Delivery.status) == DeliveryStatus.delivered
    went = or_(col(Delivery.sent_at).is_not(None), delivered)
    query = (
        select(
            slot,
            func.sum(case((went, 1), else_=0)),
            func.sum(case((delivered, 1), else_=0)),
        )
        .where(_within(col(Delivery.created_at), window))
        .group_by(slot)
    )
    found = [Outbound() for _ in range(window.count)]
    for index, sent, done in (await session.exec(query)).all():
        if 0 <= int(index) < window.count:
            found[int(index)] = Outbound(int(sent or 0), int(done or 0))
    return found


@dataclass(frozen=True)
class Reason:
    label: str
    counts: list[int]


def reason_label(status: str, code: str | None, sample: str | None) -> str:
    """A failure reason in a few words: the state, the carrier's code and its meaning."""
    state = str(status).capitalize()
    if code:
        meaning = ERROR_TEXT.get(code)
        return f"{state}, error {code}" + (f": {meaning}" if meaning else "")
    said = (sample or "no reason given").split(" (last attempt")[0]
    return f"{state}: {said[:80]}"


async def failure_counts(session: AsyncSession, window: Window) -> list[Reason]:
    """SMS that failed, were rejected or expired, per reason (state and error code)."""
    slot = bucket(session, col(Delivery.created_at), window)
    status, code = col(Delivery.status), col(Delivery.error_code)
    query = (
        sa_select(slot, status, code, func.count(), func.min(Delivery.error))
        .where(_within(col(Delivery.created_at), window), status.in_(FAILED))
        .group_by(slot, status, code)
    )
    counts: dict[tuple[str, str | None], list[int]] = {}
    samples: dict[tuple[str, str | None], str] = {}
    rows = (await session.exec(query)).all()  # type: ignore[call-overload]
    for index, state, error_code, count, sample in rows:
        key = (str(state), error_code)
        counts.setdefault(key, [0] * window.count)
        if sample and (key not in samples or sample < samples[key]):
            samples[key] = sample
        if 0 <= int(index) < window.count:
            counts[key][int(index)] += int(count)
    return [
        Reason(reason_label(state, error_code, samples.get((state, error_code))), values)
        for (state, error_code), values in counts.items()
    ]


@dataclass(frozen=True)
class Percentiles:
    count: int = 0
    p50: float | None = None
    p95: float | None = None


def _delay(session: AsyncSession, later: Any, earlier: Any) -> Any:
    """Seconds from one time column to another."""
    if _postgres(session):
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def percentiles(histogram: Counter[int]) -> Percentiles:
    """Nearest-rank p50 and p95 (the value at rank ceil(p·n)) of delays in hundredths
    of a second, each with how many times it occurred."""
    total = sum(histogram.values())
    if not total:
        return Percentiles()
    found: dict[int, float] = {}
    ranks = {50: -(-total * 50 // 100), 95: -(-total * 95 // 100)}
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        for percent, rank in ranks.items():
            if percent not in found and seen >= rank:
                found[percent] = max(value, 0) / 100
    return Percentiles(total, found[50], found[95])


async def delay_histograms(
    session: AsyncSession, window: Window, *, delivered: bool
) -> list[Counter[int]]:
    """Per bucket of the SMS's queueing, how many forwarded texts took each delay (in
    hundredths of a second, the precision shown) from their arrival to the carrier
    accepting the SMS, or with `delivered` to the delivery receipt.

    One GROUP BY rather than sorting every delay in the database: a bucket holds a few
    hundred distinct delays however many thousand texts it counts."""
    done = col(Delivery.updated_at) if delivered else col(Delivery.sent_at)
    slot = bucket(session, col(Delivery.created_at), window)
    hundredths = cast(
        func.round(_delay(session, done, col(Message.created_at)) * integer(100)), Integer
    )
    conditions = [
        _within(col(Delivery.created_at), window),
        col(Delivery.kind) == DeliveryKind.forward,
        done.is_not(None),
    ]
    if delivered:
        conditions.append(col(Delivery.status) == DeliveryStatus.delivered)
    query = (
        select(slot, hundredths, func.count())
        .join(Message, col(Message.id) == col(Delivery.message_id))
        .where(*conditions)
        .group_by(slot, hundredths)
    )
    found: list[Counter[int]] = [Counter() for _ in range(window.count)]
    for index, value, count in (await session.exec(query)).all():
        if 0 <= int(index) < window.count:
            found[int(index)][int(value)] += int(count)
    return found


async def opt_out_counts(session: AsyncSession, window: Window) -> tuple[list[int], list[int]]:
    """Numbers that opted out (STOP, or their carrier said so) and back in (START),
    per bucket, from the audit log: an opt-out row is gone once its number opts in."""
    slot = bucket(session, col(AuditEvent.at), window)
    query = (
        select(slot, col(AuditEvent.action), func.count())
        .where(_within(col(AuditEvent.at), window), col(AuditEvent.action).in_(OPT_ACTIONS))
        .group_by(slot, col(AuditEvent.action))
    )
    rows = (await session.exec(query)).all()
    outs = _spread(
        [(index, n) for index, action, n in rows if action == OPT_ACTIONS[0]], window.count
    )
    ins = _spread(
        [(index, n) for index, action, n in rows if action == OPT_ACTIONS[1]], window.count
    )
    return outs, ins


async def held_counts(session: AsyncSession, window: Window) -> dict[str, list[int]]:
    """Texts held by the contact policy, per bucket of their arrival, by what became of
    them: still held, released or rejected."""
    slot = bucket(session, col(Message.created_at), window)
    query = (
        select(slot, col(Message.screening), func.count())
        .where(_within(col(Message.created_at), window), col(Message.screening).in_(HELD_STATES))
        .group_by(slot, col(Message.screening))
    )
    rows = (await session.exec(query)).all()
    return {
        state: _spread([(index, n) for index, found, n in rows if found == state], window.count)
        for state in HELD_STATES
    }

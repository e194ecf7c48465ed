"""Reports: what the service did over a period, counted per hour or per day (UTC).

Each chart is a few series of numbers, one value per bucket. The counting is done by
the database (GROUP BY a bucket number computed from an indexed time column, see
`report_queries`); this module chooses the period and shapes the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import InvalidInput
from . import report_pool
from . import report_queries as q

BUCKETS = {"hour": 3600, "day": 86400}
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_BUCKET = {"24h": "hour", "7d": "day", "30d": "day", "custom": "day"}
MAX_BUCKETS = 24 * 31  # an hourly month, a daily two years
MAX_DAYS = 2 * 366
TOP_REASONS = 5  # failure reasons charted one by one; the rest are "Other"
CHARTS = ("traffic", "delivery", "failures", "delay", "pool", "optouts", "held")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, cut into buckets of `width` seconds from `start`."""

    choice: str  # "24h", "7d", "30d" or "custom"
    bucket: str  # "hour" or "day"
    start: datetime
    end: datetime

    @property
    def width(self) -> int:
        return BUCKETS[self.bucket]

    @property
    def count(self) -> int:
        seconds = int((self.end - self.start).total_seconds())
        return -(-seconds // self.width)

    def starts(self) -> list[int]:
        """Each bucket's start, in Unix seconds."""
        first = int(self.start.timestamp())
        return [first + index * self.width for index in range(self.count)]

    def query(self) -> q.Window:
        return q.Window(self.start, self.end, self.width, self.count)


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC)
    if bucket == "day":
        return datetime.combine(moment.date(), time(), UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def period_for(
    choice: str,
    *,
    bucket: str = "",
    since: date | None = None,
    until: date | None = None,
    now: datetime,
) -> Period:
    """The period a report asks for. A preset ends now and starts on a bucket boundary
    (the last 24 hours are 24 whole hours, the newest one still running); a custom
    period is whole UTC days, both included."""
    if choice not in (*PERIODS, "custom"):
        raise InvalidInput("period must be 24h, 7d, 30d or custom", field="period")
    bucket = bucket or DEFAULT_BUCKET[choice]
    if bucket not in BUCKETS:
        raise InvalidInput("bucket must be hour or day", field="bucket")
    if choice == "custom":
        if since is None or until is None:
            raise InvalidInput("A custom period needs a start and an end date", field="from")
        if until < since:
            raise InvalidInput("The end date is before the start date", field="to")
        if (until - since).days + 1 > MAX_DAYS:
            raise InvalidInput(f"A period is at most {MAX_DAYS} days", field="from")
        start = datetime.combine(since, time(), UTC)
        end = datetime.combine(until + timedelta(days=1), time(), UTC)
    else:
        step = timedelta(seconds=BUCKETS[bucket])
        end = now.astimezone(UTC)
        start = _floor(end, bucket) - (PERIODS[choice] - step)
        end = max(end, start + step)
    period = Period(choice, bucket, start, end)
    if period.count > MAX_BUCKETS:
        raise InvalidInput(
            f"That is {period.count} {bucket}s: at most {MAX_BUCKETS} fit a chart; "
            "choose days, or a shorter period",
            field="bucket",
        )
    return period


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | None]

    @property
    def total(self) -> float:
        return sum(value for value in self.values if value is not None)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str  # what the values count: "SMS", "%", "seconds", "numbers", "messages"
    series: list[Series]
    summary: str  # the chart in one or two sentences: its text alternative
    notes: list[str] = field(default_factory=list)

    def rows(self, starts: list[int]) -> Iterator[tuple[int, list[float | None]]]:
        for index, start in enumerate(starts):
            yield start, [series.values[index] for series in self.series]


@dataclass(frozen=True)
class Report:
    period: Period
    starts: list[int]
    charts: list[Chart]

    def chart(self, key: str) -> Chart:
        return next(chart for chart in self.charts if chart.key == key)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _n(count: float, word: str) -> str:
    count = int(count)
    plural = word if word == "SMS" else word + "s"
    return f"{count} {word if count == 1 else plural}"


async def traffic(session: AsyncSession, period: Period) -> tuple[Chart, Chart]:
    window = period.query()
    inbound = await q.inbound_counts(session, window)
    outbound = await q.outbound_counts(session, window)
    received = Series("In (SMS received)", [float(v) for v in inbound])
    sent = Series("Out (SMS accepted by the carrier)", [float(c.sent) for c in outbound])
    traffic_chart = Chart(
        "traffic",
        "Messages in and out",
        "SMS",
        [received, sent],
        f"{_n(received.total, 'SMS')} received and {_n(sent.total, 'SMS')} sent in the period.",
    )
    rates = [_rate(c.delivered, c.sent) for c in outbound]
    delivered = sum(c.delivered for c in outbound)
    total_sent = sum(c.sent for c in outbound)
    overall = _rate(delivered, total_sent)
    summary = (
        f"{delivered} of {_n(total_sent, 'SMS')} sent were delivered ({overall}%)."
        if overall is not None
        else "No SMS were sent in the period."
    )
    delivery_chart = Chart(
        "delivery",
        "Delivery rate",
        "%",
        [Series("Delivered / sent (%)", rates)],
        summary,
        ["An SMS counts in the hour or day it was queued; its state is today's."],
    )
    return traffic_chart, delivery_chart


async def failures(session: AsyncSession, period: Period) -> Chart:
    found = await q.failure_counts(session, period.query())
    totals: dict[str, int] = {}
    for reason in found:
        totals[reason.label] = totals.get(reason.label, 0) + sum(reason.counts)
    ranked = sorted(totals, key=lambda label: (-totals[label], label))
    # A single leftover reason is charted by name rather than as "Other".
    shown = ranked if len(ranked) <= TOP_REASONS + 1 else ranked[:TOP_REASONS]
    values: dict[str, list[float | None]] = {label: [0.0] * period.count for label in shown}
    other = [0.0] * period.count
    for reason in found:
        target = values.get(reason.label, other)
        for index, count in enumerate(reason.counts):
            target[index] = (target[index] or 0) + count
    series = [Series(label, values[label]) for label in shown]
    if len(ranked) > len(shown):
        series.append(Series("Other reasons", list[float | None](other)))
    total = sum(totals.values())
    if total:
        top = ", ".join(f"{label}: {totals[label]}" for label in ranked[:3])
        summary = f"{_n(total, 'SMS')} failed or were refused; most often {top}."
    else:
        summary = "No SMS failed in the period."
    return Chart("failures", "Failures by reason", "SMS", series, summary)


async def delays(session: AsyncSession, period: Period) -> Chart:
    window = period.query()
    accepted_counts = await q.delay_histograms(session, window, delivered=False)
    accepted = [q.percentiles(counts) for counts in accepted_counts]
    delivered = [
        q.percentiles(counts)
        for counts in await q.delay_histograms(session, window, delivered=True)
    ]
    series = [
        Series("Accepted, p50 (s)", [p.p50 for p in accepted]),
        Series("Accepted, p95 (s)", [p.p95 for p in accepted]),
        Series("Delivered, p50 (s)", [p.p50 for p in delivered]),
        Series("Delivered, p95 (s)", [p.p95 for p in delivered]),
    ]
    overall = q.percentiles(sum(accepted_counts, Counter[int]()))
    if not overall.count:
        summary = "No text was forwarded in the period."
    else:
        summary = (
            f"Half of the forwarded texts were accepted by the carrier within {overall.p50} s "
            f"of arriving, 95% within {overall.p95} s."
        )
    notes = [
        "From a text's arrival to the carrier accepting its forwarded SMS, and to the "
        "carrier's delivery receipt; held texts count from arrival to their release."
    ]
    return Chart("delay", "Forwarding delay", "seconds", series, summary, notes)


async def pool(session: AsyncSession, period: Period) -> Chart:
    window = period.query()
    in_use = await report_pool.numbers_in_use(session, window)
    sizes = await report_pool.pool_sizes(session, window, period.starts())
    series = [
        Series("Numbers in use", [float(v) for v in in_use]),
        Series("Pool size", [float(v) for v in sizes]),
    ]
    busiest = max(in_use, default=0)
    now = await report_pool.pool_now(session)
    summary = (
        f"At most {_n(busiest, 'number')} carried chats in one {period.bucket}. Now "
        f"{now.carrying} of the pool's {_n(now.numbers, 'number')} ({now.enabled} enabled) "
        "carry active chats."
    )
    notes = [
        "A number is in use in an hour or day when a chat with a participant on it was "
        "open then. Numbers removed from the pool since are not counted."
    ]
    return Chart("pool", "Pool utilisation", "numbers", series, summary, notes)


async def optouts(session: AsyncSession, period: Period) -> Chart:
    stops, starts = await q.opt_out_counts(session, period.query())
    series = [
        Series("Opted out (STOP)", [float(v) for v in stops]),
        Series("Opted in again (START)", [float(v) for v in starts]),
    ]
    summary = (
        f"{_n(series[0].total, 'number')} opted out and "
        f"{_n(series[1].total, 'number')} opted in again."
    )
    return Chart("optouts", "Opt-outs", "numbers", series, summary)


async def held(session: AsyncSession, period: Period) -> Chart:
    counts = await q.held_counts(session, period.query())
    labels = {
        "held": "Still held",
        "released": "Released",
        "rejected": "Rejected",
    }
    series = [Series(label, [float(v) for v in counts[state]]) for state, label in labels.items()]
    total = sum(s.total for s in series)
    summary = (
        f"{_n(total, 'text')} held for staff: {int(series[1].total)} released, "
        f"{int(series[2].total)} rejected, {int(series[0].total)} still waiting."
    )
    return Chart("held", "Held messages", "messages", series, summary)


async def build_report(session: AsyncSession, period: Period) -> Report:
    traffic_chart, delivery_chart = await traffic(session, period)
    charts = [
        traffic_chart,
        delivery_chart,
        await failures(session, period),
        await delays(session, period),
        await pool(session, period),
        await optouts(session, period),
        await held(session, period),
    ]
    return Report(period, period.starts(), charts)


async def build_chart(session: AsyncSession, period: Period, key: str) -> Chart:
    """One chart of the report (for its CSV)."""
    if key in ("traffic", "delivery"):
        traffic_chart, delivery_chart = await traffic(session, period)
        return traffic_chart if key == "traffic" else delivery_chart
    one = {"failures": failures, "delay": delays, "pool": pool, "optouts": optouts, "held": held}
    return await one[key](session, period)

"""Reports: periods and their buckets, and every chart's counts, from rows seeded at
known times (on SQLite, and on PostgreSQL when DATABASE_URL names one)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from smsproxy.errors import InvalidInput
from smsproxy.models import (
    AuditEvent,
    AuthorKind,
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    Participant,
    ProxyNumber,
    Screening,
)
from smsproxy.proxy import reports
from smsproxy.runtime import Runtime

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
START = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # the first of the last 24 hours
HOUR = timedelta(hours=1)
GB1, GB2, GB3 = "+447700900100", "+447700900101", "+447700900102"


def at(hours: float = 0, seconds: float = 0) -> datetime:
    return START + timedelta(hours=hours, seconds=seconds)


def test_presets_end_now_and_start_on_a_bucket_boundary() -> None:
    day = reports.period_for("24h", now=NOW)
    assert (day.bucket, day.start, day.end, day.count) == ("hour", START, NOW, 24)
    assert day.starts()[0] == int(START.timestamp())
    assert day.starts()[-1] == int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
    week = reports.period_for("7d", now=NOW)
    assert (week.bucket, week.start, week.count) == ("day", datetime(2026, 3, 4, tzinfo=UTC), 7)
    hourly_week = reports.period_for("7d", bucket="hour", now=NOW)
    assert hourly_week.count == 7 * 24
    month = reports.period_for("30d", now=NOW)
    assert (month.start, month.count) == (datetime(2026, 2, 9, tzinfo=UTC), 30)


def test_a_custom_period_is_whole_utc_days_both_included() -> None:
    period = reports.period_for("custom", since=date(2026, 2, 27), until=date(2026, 3, 1), now=NOW)
    assert period.start == datetime(2026, 2, 27, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 2, tzinfo=UTC)
    assert period.count == 3
    hourly = reports.period_for(
        "custom", bucket="hour", since=date(2026, 3, 1), until=date(2026, 3, 1), now=NOW
    )
    assert hourly.count == 24


@pytest.mark.parametrize(
    ("choice", "bucket", "since", "until", "field", "words"),
    [
        ("1y", "", None, None, "period", "24h, 7d, 30d or custom"),
        ("24h", "minute", None, None, "bucket", "hour or day"),
        ("custom", "", None, date(2026, 3, 1), "from", "start and an end"),
        ("custom", "", date(2026, 3, 2), date(2026, 3, 1), "to", "before the start"),
        ("custom", "hour", date(2026, 1, 1), date(2026, 2, 28), "bucket", "at most 744"),
        ("custom", "day", date(2020, 1, 1), date(2026, 1, 1), "from", "at most 732 days"),
    ],
)
def test_bad_periods_say_what_is_wrong(
    choice: str, bucket: str, since: date | None, until: date | None, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        reports.period_for(choice, bucket=bucket, since=since, until=until, now=NOW)
    assert caught.value.field == field
    assert words in caught.value.message


async def seed_chat(rt: Runtime) -> tuple[int, int]:
    """A chat (opened before the period) with one participant; its id and theirs."""
    async with rt.db.transaction() as session:
        chat = Chat(created_at=START - timedelta(days=2), last_activity_at=START)
        session.add(chat)
        await session.flush()
        assert chat.id is not None
        person = Participant(
            chat_id=chat.id,
            real_number="+447700900001",
            proxy_number=GB1,
            created_at=chat.created_at,
        )
        session.add(person)
        await session.flush()
        assert person.id is not None
        return chat.id, person.id


async def test_texts_in_and_out_per_hour_with_exact_boundaries(runtime: Runtime) -> None:
    chat_id, person = await seed_chat(runtime)
    inbound = [
        at(seconds=-1),  # 12:59:59 the day before: outside the period
        at(0),  # exactly 13:00:00: the first hour
        at(seconds=3599.999999),  # the last microsecond of the first hour
        at(1),  # exactly 14:00:00: the second hour
        at(23, 29 * 60),  # 12:29 today: the last, running hour
        NOW,  # the end is not included
    ]
    async with runtime.db.transaction() as session:
        for index, when in enumerate(inbound):
            session.add(
                Message(
                    chat_id=chat_id,
                    author_kind=AuthorKind.participant,
                    participant_id=person,
                    body=f"text {index}",
                    created_at=when,
                )
            )
        session.add(Message(author_kind=AuthorKind.unrouted, body="stray", created_at=at(1.5)))
        session.add(
            Message(chat_id=chat_id, author_kind=AuthorKind.staff, body="staff", created_at=at(1.5))
        )
        # SMS queued in the first hour: 2 delivered, 1 sent, 1 failed unsent, 1 queued.
        for status, sent in (
            (DeliveryStatus.delivered, True),
            (DeliveryStatus.delivered, True),
            (DeliveryStatus.sent, True),
            (DeliveryStatus.failed, False),
            (DeliveryStatus.queued, False),
        ):
            session.add(delivery(status, at(0.5), sent_at=at(0.5, 2) if sent else None))
        session.add(delivery(DeliveryStatus.sent, at(2), sent_at=at(2, 1)))
    period = reports.period_for("24h", now=NOW)
    async with runtime.db.read() as session:
        report = await reports.build_report(session, period)
    traffic = report.chart("traffic")
    received, sent = traffic.series
    assert received.values[:3] == [2, 2, 0]
    assert received.values[23] == 1
    assert received.total == 5
    assert sent.values[:3] == [3, 0, 1]
    rate = report.chart("delivery").series[0]
    assert rate.values[0] == pytest.approx(66.7)
    assert rate.values[1] is None  # nothing sent: a gap, not 0%
    assert rate.values[2] == 0.0
    assert "2 of 4 SMS sent were delivered (50.0%)" in report.chart("delivery").summary


def delivery(
    status: DeliveryStatus,
    created: datetime,
    *,
    sent_at: datetime | None = None,
    code: str | None = None,
    error: str | None = None,
    kind: DeliveryKind = DeliveryKind.staff,
    message_id: int | None = None,
    updated: datetime | None = None,
) -> Delivery:
    return Delivery(
        kind=kind,
        message_id=message_id,
        from_number=GB1,
        to_number="+447700900002",
        body="hello",
        status=status,
        created_at=created,
        updated_at=updated or created,
        sent_at=sent_at,
        error_code=code,
        error=error,
    )


async def test_failures_are_counted_by_state_and_code(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        for _ in range(3):
            session.add(delivery(DeliveryStatus.failed, at(0.1), code="6", error="spam (error 6)"))
        session.add(delivery(DeliveryStatus.failed, at(5), code="6", error="spam (error 6)"))
        session.add(delivery(DeliveryStatus.rejected, at(5), code="4", error="barred"))
        session.add(
            delivery(
                DeliveryStatus.failed,
                at(5),
                error="Not sent within 1 day: an SMS is not sent so late (last attempt: boom)",
            )
        )
        session.add(delivery(DeliveryStatus.expired, at(-1), code="6"))  # before the period
        session.add(delivery(DeliveryStatus.suppressed, at(5)))  # not a failure
    period = reports.period_for("24h", now=NOW)
    async with runtime.db.read() as session:
        chart = await reports.failures(session, period)
    by_label = {series.label: series for series in chart.series}
    spam = by_label["Failed, error 6: The network rejected the SMS as spam"]
    assert (spam.values[0], spam.values[5], spam.total) == (3, 1, 4)
    assert by_label["Rejected, error 4: The recipient has barred this call or SMS"].total == 1
    late = by_label["Failed: Not sent within 1 day: an SMS is not sent so late"]
    assert late.values[5] == 1
    assert chart.series[0] is spam  # the most frequent first
    assert "6 SMS failed or were refused" in chart.summary


async def test_forwarding_delay_percentiles_per_bucket(runtime: Runtime) -> None:
    chat_id, person = await seed_chat(runtime)
    async with runtime.db.transaction() as session:
        # First hour: ten texts forwarded 1 … 10 s after arriving, delivered 10 s later.
        for seconds in range(1, 11):
            arrived = at(0, 60 * seconds)
            message = Message(
                chat_id=chat_id,
                author_kind=AuthorKind.participant,
                participant_id=person,
                body="text",
                created_at=arrived,
            )
            session.add(message)
            await session.flush()
            session.add(
                delivery(
                    DeliveryStatus.delivered,
                    arrived,
                    kind=DeliveryKind.forward,
                    message_id=message.id,
                    sent_at=arrived + timedelta(seconds=seconds),
                    updated=arrived + timedelta(seconds=seconds + 10),
                )
            )
        # Third hour: one text, accepted after 2.5 s, not delivered yet.
        arrived = at(2, 30)
        message = Message(
            chat_id=chat_id, author_kind=AuthorKind.participant, body="x", created_at=arrived
        )
        session.add(message)
        await session.flush()
        session.add(
            delivery(
                DeliveryStatus.sent,
                arrived,
                kind=DeliveryKind.forward,
                message_id=message.id,
                sent_at=arrived + timedelta(seconds=2.5),
            )
        )
        # A staff SMS is no forward: never counted.
        session.add(delivery(DeliveryStatus.delivered, at(0.2), sent_at=at(3)))
    period = reports.period_for("24h", now=NOW)
    async with runtime.db.read() as session:
        chart = await reports.delays(session, period)
    accepted50, accepted95, delivered50, delivered95 = chart.series
    # Nearest rank: p50 of ten is the 5th value, p95 the 10th.
    assert (accepted50.values[0], accepted95.values[0]) == (5.0, 10.0)
    assert (delivered50.values[0], delivered95.values[0]) == (15.0, 20.0)
    assert (accepted50.values[1], accepted95.values[1]) == (None, None)
    assert (accepted50.values[2], accepted95.values[2]) == (2.5, 2.5)
    assert delivered50.values[2] is None
    # Over the whole period, eleven values: 2.5, 1 … 10; p50 is the 6th (5), p95 the 11th.
    assert "within 5.0 s of arriving, 95% within 10.0 s" in chart.summary


async def test_pool_utilisation_follows_chats_open_in_each_bucket(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        # The counters proxy.load keeps: GB1 carries the open chat now; GB3 is disabled.
        session.add(
            ProxyNumber(
                number=GB1, country="GB", created_at=START - timedelta(days=9), active_chats=1
            )
        )
        session.add(ProxyNumber(number=GB2, country="GB", created_at=START - timedelta(days=9)))
        session.add(ProxyNumber(number=GB3, country="GB", created_at=at(3), enabled=False))
        spans = [
            # (opened, closed or None, proxy numbers of its participants)
            (START - timedelta(days=1), at(2, 10), [GB1, GB1]),  # until 15:00:10
            (at(1, 1), at(1, 59 * 60), [GB2]),  # within 14:00
            (at(5), None, [GB1, GB3]),  # from 18:00, still open
            (START - timedelta(days=3), START - timedelta(days=2), [GB2]),  # long closed
        ]
        for opened, closed, numbers in spans:
            chat = Chat(
                created_at=opened,
                last_activity_at=opened,
                status=ChatStatus.closed if closed else ChatStatus.active,
                closed_at=closed,
            )
            session.add(chat)
            await session.flush()
            assert chat.id is not None
            for position, number in enumerate(numbers):
                session.add(
                    Participant(
                        chat_id=chat.id,
                        real_number=f"+4477009000{position + 10}",
                        proxy_number=number,
                        created_at=opened,
                        position=position,
                        active=closed is None,
                    )
                )
    period = reports.period_for("24h", now=NOW)
    async with runtime.db.read() as session:
        chart = await reports.pool(session, period)
    in_use, size = chart.series
    assert in_use.values[:7] == [1, 2, 1, 0, 0, 2, 2]
    assert in_use.values[23] == 2
    assert size.values[:5] == [2, 2, 2, 3, 3]
    assert size.values[23] == 3
    assert chart.summary == (
        "At most 2 numbers carried chats in one hour. "
        "Now 1 of the pool's 3 numbers (2 enabled) carry active chats."
    )


async def test_opt_outs_and_held_messages(runtime: Runtime) -> None:
    chat_id, person = await seed_chat(runtime)
    async with runtime.db.transaction() as session:
        for hours, action in (
            (0, "participant.opt_out"),
            (0.5, "participant.opt_out"),
            (4, "participant.opt_in"),
            (-2, "participant.opt_out"),  # before the period
            (4, "chat.close"),
        ):
            session.add(AuditEvent(at=at(hours), actor="sms", action=action, target="+4477…"))
        for hours, screening in (
            (0, Screening.held),
            (0, Screening.released),
            (1, Screening.rejected),
            (1, Screening.redacted),  # forwarded with holes: never held
            (1, None),
        ):
            session.add(
                Message(
                    chat_id=chat_id,
                    author_kind=AuthorKind.participant,
                    participant_id=person,
                    body="call me",
                    created_at=at(hours),
                    screening=screening,
                )
            )
    period = reports.period_for("24h", now=NOW)
    async with runtime.db.read() as session:
        optouts = await reports.optouts(session, period)
        held = await reports.held(session, period)
    stops, starts = optouts.series
    assert (stops.values[0], stops.total, starts.values[4], starts.total) == (2, 2, 1, 1)
    waiting, released, rejected = held.series
    assert (waiting.values[0], released.values[0], rejected.values[1]) == (1, 1, 1)
    assert sum(s.total for s in held.series) == 3
    assert "3 texts held for staff: 1 released, 1 rejected, 1 still waiting" in held.summary


async def test_daily_buckets_of_a_custom_period(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        for when in (
            datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 3, 2, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 4, 0, 0, tzinfo=UTC),  # the day after the period
        ):
            session.add(Message(author_kind=AuthorKind.unrouted, body="?", created_at=when))
    period = reports.period_for("custom", since=date(2026, 3, 1), until=date(2026, 3, 3), now=NOW)
    async with runtime.db.read() as session:
        chart, _ = await reports.traffic(session, period)
    assert chart.series[0].values == [2, 1, 0]


async def test_rare_failure_reasons_are_charted_together(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        # Seven codes, failing 7, 6, … 1 times.
        for code in range(1, 8):
            for _ in range(8 - code):
                session.add(delivery(DeliveryStatus.failed, at(1), code=str(code)))
    period = reports.period_for("24h", now=NOW)
    async with runtime.db.read() as session:
        chart = await reports.failures(session, period)
    labels = [series.label.split(":")[0] for series in chart.series]
    assert labels == [f"Failed, error {code}" for code in range(1, 6)] + ["Other reasons"]
    assert [series.total for series in chart.series] == [7, 6, 5, 4, 3, 3]
    assert chart.series[-1].values[1] == 3

"""The sender worker: claims due outbox rows in batches, sends them through the carrier
at the set rate with bounded concurrency, and records what happened (`outbox.claims`,
`outbox.results`), the results of sends that finish together in one transaction.

Claims run a batch (SEND_CONCURRENCY rows) ahead of the sends, so that a slot that
frees up always finds a row: the sender keeps up at SEND_CONCURRENCY sends per carrier
round trip. A claimed row may wait for a slot; it is sent only while its lease still
covers the longest the carrier may take to answer it (SEND_LEASE_SECONDS is checked
against that), and handed back otherwise, so that no other process takes it over mid-send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

from ..carrier import Carrier, CarrierError, OutboundSms, SendResult, TransientCarrierError
from ..config import LEASE_MARGIN_SECONDS, PATIENT_SEND_FACTOR
from ..db import Database, is_unavailable, utcnow
from ..db.group_commit import GroupCommit
from ..models import Delivery, DeliveryStatus
from ..outbox.claims import claim_due, expire_stale, seconds_until_due
from ..outbox.results import hand_back, record_failure, record_sent
from .ratelimit import Limiter, TokenBucket

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # picks up rows other processes queued, and retries coming due
EXPIRE_EVERY_SECONDS = 30.0  # how often rows past SEND_MAX_AGE_SECONDS are looked for


@dataclass(frozen=True)
class SenderOptions:
    """The settings the sender needs, as plain values."""

    concurrency: int = 16
    rate_per_second: float = 30.0
    lease_seconds: int = 60
    max_age_seconds: int = 6 * 3600
    carrier_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Sender:
    """What sending takes: the outbox's database, a carrier, the options, and the
    writer that commits the results of sends finishing together in one transaction."""

    db: Database
    carrier: Carrier
    options: SenderOptions
    writer: GroupCommit
    _gate: asyncio.Semaphore = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_gate", asyncio.Semaphore(self.options.concurrency))

    async def process(self, delivery: Delivery, limiter: Limiter | None = None) -> DeliveryStatus:
        """Send one claimed row and record the outcome; returns the row's new status."""
        async with self._gate:
            if limiter is not None:
                await limiter.acquire()
            if not self._lease_covers_a_send(delivery):
                return await self.writer.run(lambda session: hand_back(session, delivery))
            outcome = await self._send(delivery)
        if isinstance(outcome, CarrierError):
            return await self.record_failure(delivery, outcome)
        return await self.record_sent(delivery, outcome)

    def _lease_covers_a_send(self, delivery: Delivery) -> bool:
        if delivery.lease_until is None:
            return True
        answer_within = math.ceil(self.options.carrier_timeout_seconds)
        if delivery.ambiguous_attempts:
            answer_within *= PATIENT_SEND_FACTOR
        left = (delivery.lease_until - utcnow()).total_seconds()
        return left >= answer_within + LEASE_MARGIN_SECONDS

    async def _send(self, delivery: Delivery) -> SendResult | CarrierError:
        sms = OutboundSms(
            delivery_id=delivery.public_id,
            from_number=delivery.from_number,
            to_number=delivery.to_number,
            text=delivery.body,
            patient=delivery.ambiguous_attempts > 0,
        )
        try:
            return await self.carrier.send(sms)
        except CarrierError as error:
            return error
        except Exception as error:
            # A bug, not the carrier: keep the row and retry it rather than lose it.
            log.exception("sending delivery %s failed unexpectedly", delivery.public_id)
            return TransientCarrierError(f"Internal error while sending ({type(error).__name__})")

    async def record_sent(self, claimed: Delivery, result: SendResult) -> DeliveryStatus:
        return await self.writer.run(lambda session: record_sent(session, claimed, result))

    async def record_failure(self, claimed: Delivery, error: CarrierError) -> DeliveryStatus:
        max_age = self.options.max_age_seconds
        return await self.writer.run(
            lambda session: record_failure(session, claimed, error, max_age_seconds=max_age)
        )

    async def claim(self, limit: int, now: datetime | None = None) -> list[Delivery]:
        return await claim_due(
            self.db,
            limit,
            now,
            lease_seconds=self.options.lease_seconds,
            max_age_seconds=self.options.max_age_seconds,
        )

    async def expire(self, now: datetime | None = None) -> int:
        """Fail, unsent, what waited longer than SEND_MAX_AGE_SECONDS."""
        return await expire_stale(self.db, self.options.max_age_seconds, now)

    async def run_round(
        self, limiter: Limiter | None = None, now: datetime | None = None, limit: int | None = None
    ) -> int:
        """Claim what is due (as of `now`) and send it all; returns how many rows it sent."""
        await self.expire(now)
        rows = await self.claim(limit or self.options.concurrency, now)
        if rows:
            await asyncio.gather(*(self.process(row, limiter) for row in rows))
        return len(rows)

    async def drain(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """Send until the outbox is idle, waiting for retries that come due within
        `timeout`. Returns how many sends were made; rows due later stay queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        limiter = TokenBucket(self.options.rate_per_second)
        total = 0
        while True:
            sent = await self.run_round(limiter)
            total += sent
            if sent:
                continue
            wait = await seconds_until_due(self.db)
            if wait is None or loop.time() + wait > deadline:
                return total
            await asyncio.sleep(max(wait, 0.01))

    async def run(self, wakeup: asyncio.Event, limiter: Limiter) -> None:
        """The background loop: claims a batch whenever at most one batch is in hand,
        sends at most `concurrency` at once at the set rate; `wakeup` is set when a
        transaction that queued an SMS commits."""
        batch = self.options.concurrency
        in_flight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        next_expiry = loop.time()
        try:
            while True:
                wakeup.clear()
                if loop.time() >= next_expiry:
                    next_expiry = loop.time() + EXPIRE_EVERY_SECONDS
                    await self._expire_logged()
                room = 2 * batch - len(in_flight)
                claimed = 0
                if room >= batch:
                    rows = await self._claim_logged(room)
                    for row in rows:
                        task = asyncio.create_task(self._send_logged(row, limiter))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    claimed = len(rows)
                if (claimed and claimed == room) or room < batch:
                    # Busy, and more may be due: claim again once a batch has gone out.
                    while len(in_flight) > batch:
                        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), POLL_SECONDS)
        finally:
            grace = min(15.0, self.options.carrier_timeout_seconds + 1)
            await _finish(in_flight, grace=grace)
            await limiter.aclose()

    async def _claim_logged(self, limit: int) -> list[Delivery]:
        try:
            return await self.claim(limit)
        except Exception as error:
            _log_db_failure(error, "claiming outbox rows")
            return []

    async def _expire_logged(self) -> None:
        try:
            await self.expire()
        except Exception as error:
            _log_db_failure(error, "failing outbox rows past their age")

    async def _send_logged(self, row: Delivery, limiter: Limiter) -> None:
        try:
            await self.process(row, limiter)
        except Exception:
            # Most likely the database went away while recording: the row stays `sending`
            # and is claimed again when its lease runs out.
            log.exception("recording the outcome of delivery %s failed", row.public_id)


async def _finish(in_flight: set[asyncio.Task[None]], grace: float) -> None:
    """On shutdown, let sends already under way record their outcome; a send cut off
    leaves its row `sending`, to be claimed again after the lease."""
    if not in_flight:
        return
    done, pending = await asyncio.wait(set(in_flight), timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1)
    log.info("sender stopped: %d send(s) finished, %d cut off", len(done), len(pending))


def _log_db_failure(error: Exception, doing: str) -> None:
    if is_unavailable(error):
        log.warning("sender cannot reach the database (%s); trying again", type(error).__name__)
    else:
        log.exception("%s failed", doing)

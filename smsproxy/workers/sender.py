"""The sender worker: claims due outbox rows, sends them through the carrier at the
set rate with bounded concurrency, and records what happened (`outbox.claims`,
`outbox.results`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from ..carrier import Carrier, CarrierError, OutboundSms, TransientCarrierError
from ..db import Database, is_unavailable
from ..models import Delivery, DeliveryStatus
from ..outbox.claims import claim_due, seconds_until_due
from ..outbox.results import record_failure, record_sent
from .ratelimit import Limiter, TokenBucket

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # picks up rows other processes queued, and retries coming due


@dataclass(frozen=True)
class SenderOptions:
    """The settings the sender needs, as plain values."""

    concurrency: int = 8
    rate_per_second: float = 30.0
    lease_seconds: int = 60
    max_age_seconds: int = 6 * 3600
    carrier_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Sender:
    """What sending takes: the outbox's database, a carrier and the options."""

    db: Database
    carrier: Carrier
    options: SenderOptions

    async def process(self, delivery: Delivery, limiter: Limiter | None = None) -> DeliveryStatus:
        """Send one claimed row and record the outcome; returns the row's new status."""
        if limiter is not None:
            await limiter.acquire()
        sms = OutboundSms(
            delivery_id=delivery.public_id,
            from_number=delivery.from_number,
            to_number=delivery.to_number,
            text=delivery.body,
        )
        try:
            result = await self.carrier.send(sms)
        except CarrierError as error:
            return await self.record_failure(delivery, error)
        except Exception as error:
            # A bug, not the carrier: keep the row and retry it rather than lose it.
            log.exception("sending delivery %s failed unexpectedly", delivery.public_id)
            failure = TransientCarrierError(
                f"Internal error while sending ({type(error).__name__})"
            )
            return await self.record_failure(delivery, failure)
        return await record_sent(self.db, delivery, result)

    async def record_failure(self, claimed: Delivery, error: CarrierError) -> DeliveryStatus:
        return await record_failure(
            self.db, claimed, error, max_age_seconds=self.options.max_age_seconds
        )

    async def claim(self, limit: int, now: datetime | None = None) -> list[Delivery]:
        return await claim_due(
            self.db,
            limit,
            now,
            lease_seconds=self.options.lease_seconds,
            max_age_seconds=self.options.max_age_seconds,
        )

    async def run_round(
        self, limiter: Limiter | None = None, now: datetime | None = None, limit: int | None = None
    ) -> int:
        """Claim what is due (as of `now`) and send it all; returns how many rows it sent."""
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
        """The background loop: at most `concurrency` sends in flight, at the set rate;
        `wakeup` is set when a transaction that queued an SMS commits."""
        capacity = self.options.concurrency
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                wakeup.clear()
                free = capacity - len(in_flight)
                claimed = 0
                if free > 0:
                    try:
                        rows = await self.claim(free)
                    except Exception as error:
                        _log_claim_failure(error)
                        rows = []
                    for row in rows:
                        task = asyncio.create_task(self._send_logged(row, limiter))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    claimed = len(rows)
                if in_flight and claimed == free:
                    # Every slot is busy and more may be due: claim again when one frees up.
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), POLL_SECONDS)
        finally:
            grace = min(15.0, self.options.carrier_timeout_seconds + 1)
            await _finish(in_flight, grace=grace)
            await limiter.aclose()

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


def _log_claim_failure(error: Exception) -> None:
    if is_unavailable(error):
        log.warning("sender cannot reach the database (%s); trying again", type(error).__name__)
    else:
        log.exception("claiming outbox rows failed")

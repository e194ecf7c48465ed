"""The webhook worker: sends integration events to their endpoints.

It shares nothing with the SMS sender: its own loop, its own database engine and
connections, its own HTTP client. Each endpoint gets at most `concurrency` requests in
flight per process; a slow or failing endpoint fills its own slots and no one else's,
so a flood to it holds up neither forwarding SMS nor the other endpoints.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime

from ..db import Database, is_unavailable, utcnow
from ..integrations.claims import Claimed, claim, endpoints_with_due
from ..integrations.dispatch import Dispatcher
from ..integrations.history import prune, retention_cutoff
from ..integrations.results import Outcome, record_attempts
from ..models import WebhookDeliveryStatus

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # picks up rows other processes queued, and retries coming due
PRUNE_EVERY_SECONDS = 3600.0


class Recorder:
    """Outcomes that finish together are recorded together, in one transaction (group
    commit): on SQLite every transaction queues for the one write lock, and a
    transaction per request would make a busy endpoint's bookkeeping, not its
    requests, the bottleneck. The first caller records for everyone waiting."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Outcome, asyncio.Future[WebhookDeliveryStatus]]] = []
        self._recording = False
        self.batches = 0

    async def record(self, outcome: Outcome) -> WebhookDeliveryStatus:
        done: asyncio.Future[WebhookDeliveryStatus] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, done))
        if not self._recording:
            self._recording = True
            try:
                while self._waiting:
                    batch, self._waiting = self._waiting, []
                    await self._record(batch)
            finally:
                self._recording = False
        return await done

    async def _record(
        self, batch: list[tuple[Outcome, asyncio.Future[WebhookDeliveryStatus]]]
    ) -> None:
        self.batches += 1
        try:
            statuses = await record_attempts(self.db, [outcome for outcome, _ in batch])
        except Exception as error:
            for _, done in batch:
                done.set_exception(error)
            return
        for (_, done), status in zip(batch, statuses, strict=True):
            done.set_result(status)


class WebhookWorker:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.options = dispatcher.options
        self.recorder = Recorder(dispatcher.db)
        self._in_flight: dict[int, set[asyncio.Task[None]]] = defaultdict(set)

    def busy(self, endpoint_id: int) -> int:
        return len(self._in_flight.get(endpoint_id, ()))

    async def claim_round(self, now: datetime | None = None) -> tuple[list[Claimed], bool]:
        """Claim what is due for every endpoint with a free slot. Also says whether some
        endpoint had more due than it had slots (a backlog)."""
        now = now or utcnow()
        due = await endpoints_with_due(self.dispatcher.db, now)
        wanted = {
            endpoint_id: self.options.concurrency - self.busy(endpoint_id) for endpoint_id in due
        }
        wanted = {endpoint_id: free for endpoint_id, free in wanted.items() if free > 0}
        backlog = len(wanted) < len(due)
        if not wanted:
            return [], backlog
        claimed = await claim(
            self.dispatcher.db,
            wanted,
            now,
            lease_seconds=self.options.lease_seconds,
            retry_seconds=self.options.retry_seconds,
        )
        per_endpoint: dict[int, int] = defaultdict(int)
        for item in claimed:
            per_endpoint[item.endpoint_id] += 1
        backlog = backlog or any(per_endpoint[e] >= free for e, free in wanted.items())
        return claimed, backlog

    def start(self, item: Claimed) -> asyncio.Task[None]:
        task = asyncio.create_task(self._deliver_logged(item))
        slots = self._in_flight[item.endpoint_id]
        slots.add(task)
        task.add_done_callback(slots.discard)
        return task

    async def run_round(self, now: datetime | None = None) -> int:
        """Claim what is due and send it all; returns how many rows were sent."""
        claimed, _ = await self.claim_round(now)
        if claimed:
            await asyncio.gather(*(self.start(item) for item in claimed))
        return len(claimed)

    async def drain(self, rounds: int = 100) -> int:
        """Send until nothing is due now (for tests and tools); returns the sends."""
        total = 0
        for _ in range(rounds):
            sent = await self.run_round()
            total += sent
            if not sent:
                break
        return total

    async def run(self, wakeup: asyncio.Event) -> None:
        """The background loop; `wakeup` is set when a transaction that queued an event
        commits."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + 60.0
        try:
            while True:
                wakeup.clear()
                backlog = False
                try:
                    claimed, backlog = await self.claim_round()
                except Exception as error:
                    _log_claim_failure(error)
                    claimed = []
                for item in claimed:
                    self.start(item)
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY_SECONDS
                    await self._prune()
                await self._wait(wakeup, backlog)
        finally:
            await self._finish()

    async def _wait(self, wakeup: asyncio.Event, backlog: bool) -> None:
        """Until woken, a poll comes due, or (with a backlog) a slot frees up."""
        waiter = asyncio.ensure_future(wakeup.wait())
        watched: set[asyncio.Future[object]] = {waiter}  # type: ignore[arg-type]
        if backlog:
            watched |= {task for tasks in self._in_flight.values() for task in tasks}  # type: ignore[misc]
        try:
            await asyncio.wait(watched, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def _deliver_logged(self, item: Claimed) -> None:
        try:
            await self.recorder.record(await self.dispatcher.attempt(item))
        except Exception:
            # Most likely the database went away while recording: the row stays
            # `sending` and is claimed again when its lease runs out.
            log.exception("recording webhook delivery %s failed", item.delivery.public_id)

    async def _prune(self) -> None:
        try:
            removed = await prune(self.dispatcher.db, retention_cutoff(self.options.log_days))
        except Exception:
            log.exception("pruning the webhook delivery log failed")
            return
        if removed:
            log.info("pruned %d old webhook deliveries", removed)

    async def _finish(self) -> None:
        """On shutdown, let requests under way record their outcome; one cut off leaves
        its row `sending`, claimed again after the lease."""
        tasks = {task for tasks in self._in_flight.values() for task in tasks}
        if not tasks:
            return
        grace = min(15.0, self.options.timeout_seconds + 1)
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)


def _log_claim_failure(error: Exception) -> None:
    if is_unavailable(error):
        log.warning("webhook worker cannot reach the database (%s)", type(error).__name__)
    else:
        log.exception("claiming webhook deliveries failed")

"""Committed events in id order, each once, whatever order the broker heard them in.

Every process publishes after its own commit, so publishes cross: id 7 can be heard
after id 9, here or through Redis from another process. Ids themselves follow commit
order (`log.write_pending`), so once id N is committed every lower id that will ever
exist is committed too. That makes a gap easy to close: wait a moment for the late
publish, and if it does not come, read the log up to N. What is not in the log by then
never will be (a rolled-back PostgreSQL transaction leaves a hole in the sequence for
good), so nothing waits longer than that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from ..db import Database
from .broker import Broker, Event
from .log import events_since, last_event_id

log = logging.getLogger(__name__)

# Most crossings are two commits whose after-commit steps ran in the other order; the
# late publish follows within a few loop turns. Longer gaps cost one indexed read.
GAP_WAIT_SECONDS = 0.02
PAGE_SIZE = 500
# Log rows a catch-up reads (after a Redis outage, say) before giving up on following
# and telling every listener to catch up for itself.
CATCH_UP_LIMIT = 5000
RETRY_SECONDS = 1.0

Deliver = Callable[[Sequence[Event]], None]


async def _next(stream: AsyncIterator[Event]) -> Event | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


class OrderedFeed:
    """Follows a broker with one subscription and hands `deliver` every committed event
    in increasing id order, once. `lost` is called when the feed skipped events (it
    fell too far behind, or the database failed): listeners must catch up from the log.
    """

    def __init__(
        self,
        broker: Broker,
        db: Database,
        deliver: Deliver,
        lost: Callable[[], None],
        *,
        gap_wait: float = GAP_WAIT_SECONDS,
        catch_up_limit: int = CATCH_UP_LIMIT,
    ) -> None:
        self._broker = broker
        self._db = db
        self._deliver = deliver
        self._lost = lost
        self._gap_wait = gap_wait
        self._catch_up_limit = catch_up_limit
        self.position: int | None = None  # every id up to here has been delivered
        self._pending: dict[int, Event] = {}
        self._gap_since = 0.0
        self.gap_reads = 0

    async def run(self) -> None:
        """Follow the broker until cancelled; a subscription the broker ends (this feed
        fell behind, Redis reconnected) is replaced, and the log fills what it missed."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live event feed failed; following again in %.0f s", RETRY_SECONDS)
                self._pending.clear()
                self.position = None
                self._lost()
                await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        stream = self._broker.subscribe()
        step = asyncio.create_task(_next(stream))
        try:
            # The subscription registers on its first step: from here on, whatever the
            # log does not hold yet will be heard.
            await asyncio.sleep(0)
            if self.position is None:
                async with self._db.read() as session:
                    self.position = await last_event_id(session)
            else:
                await self._catch_up()
            loop = asyncio.get_running_loop()
            while True:
                timeout = None
                if self._pending:
                    timeout = max(0.0, self._gap_since + self._gap_wait - loop.time())
                done, _ = await asyncio.wait({step}, timeout=timeout)
                if step in done:
                    event = step.result()
                    if event is None:
                        return
                    step = asyncio.create_task(_next(stream))
                    self._heard(event, loop.time())
                else:
                    await self._fill_gap()
        finally:
            step.cancel()
            await asyncio.wait([step])
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _heard(self, event: Event, now: float) -> None:
        assert self.position is not None
        if event.id <= self.position or event.id in self._pending:
            return  # delivered already (the log filled it in, or it was published twice)
        if not self._pending:
            self._gap_since = now
        self._pending[event.id] = event
        ready: list[Event] = []
        while self.position + 1 in self._pending:
            self.position += 1
            ready.append(self._pending.pop(self.position))
        if ready:
            self._gap_since = now
            self._deliver(ready)

    async def _fill_gap(self) -> None:
        """The events below the newest one heard are all committed: read them."""
        assert self.position is not None
        self.gap_reads += 1
        newest = max(self._pending)
        async with self._db.read() as session:
            while self.position < newest:
                page = await events_since(session, self.position, limit=PAGE_SIZE)
                page = [event for event in page if event.id <= newest]
                if not page:
                    break
                self.position = page[-1].id
                self._deliver(page)
        self.position = max(self.position, newest)
        self._pending = {i: event for i, event in self._pending.items() if i > self.position}

    async def _catch_up(self) -> None:
        """After a new subscription: deliver what the log got meanwhile."""
        assert self.position is not None
        async with self._db.read() as session:
            head = await last_event_id(session)
            budget = self._catch_up_limit
            while self.position < head:
                if budget <= 0:
                    self.position = head
                    self._pending.clear()
                    self._lost()
                    return
                page = await events_since(session, self.position, limit=min(PAGE_SIZE, budget))
                if not page:
                    break
                budget -= len(page)
                self.position = page[-1].id
                self._deliver(page)
        self._pending = {i: event for i, event in self._pending.items() if i > self.position}

"""What lives as long as the server: database, event broker, carrier, background jobs.

The app keeps one Runtime (`app.extensions["smsproxy"]`); the CLI and tests build their
own. Domain code never reaches for it: it is handed a session and plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from . import events
from .config import Settings
from .db import Database
from .outbox import WAKE_KEY

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]


class Runtime:
    def __init__(self, settings: Settings, *, background: bool = True) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.broker: events.Broker = _make_broker(settings)
        self.background = background
        self.outbox_wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.db.before_commit.append(events.write_pending)
        self.db.after_commit.append(self._after_commit)
        from .carrier.factory import make_carrier

        self.carrier = make_carrier(settings, self)

    async def _after_commit(self, session: AsyncSession) -> None:
        pending = events.take_pending(session)
        if pending:
            try:
                await self.broker.publish(pending)
            except Exception:
                # The events are durable; live pages catch up when they reconnect.
                log.exception("publishing %d live events failed", len(pending))
        if session.info.pop(WAKE_KEY, False):
            self.outbox_wakeup.set()

    def jobs(self) -> dict[str, Job]:
        """The background loops a serving process runs."""
        from .proxy.lifecycle import run_sweeper
        from .proxy.multipart import run_flusher
        from .sender import run_sender

        return {
            "sweeper": lambda: run_sweeper(self),
            "multipart": lambda: run_flusher(self),
            "sender": lambda: run_sender(self),
        }

    async def start(self) -> None:
        await self.broker.start()
        if not self.background:
            return
        for name, job in self.jobs().items():
            self._tasks.append(asyncio.create_task(_supervise(name, job), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.broker.stop()
        await self.carrier.aclose()
        await self.db.dispose()


async def _supervise(name: str, job: Job) -> None:
    """Keep a background loop alive: log a crash, wait a little, start it again."""
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job %s crashed; restarting in 1 s", name)
            await asyncio.sleep(1)


def _make_broker(settings: Settings) -> events.Broker:
    if settings.redis_url:
        from .bus import RedisBroker

        return RedisBroker(settings.redis_url)
    return events.MemoryBroker()

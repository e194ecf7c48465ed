"""The composition root: what lives as long as the server, and how it fits together.

It builds the database, the event broker, the carrier and the background workers, and
hands each only what it needs (a database, a carrier, plain option values, a wake-up
event). Nothing below it imports it: the app keeps one Runtime
(`app.extensions["smsproxy"]`), where request handlers find it through the
`web.Services` protocol; the CLI and tests build their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from . import events
from .carrier import Carrier, Receipt
from .carrier.sandbox import SandboxCarrier
from .carrier.vonage import VonageCarrier
from .carrier.vonage_messages import VonageMessagesCarrier
from .config import Settings
from .db import Database, EngineOptions
from .db.group_commit import GroupCommit
from .events.redis_broker import RedisBroker
from .integrations import subscriptions as webhook_subscriptions
from .integrations.dispatch import Dispatcher, WebhookOptions
from .integrations.signing import SecretBox
from .outbox.enqueue import took_new_rows
from .proxy.chats import Templates
from .proxy.inbound import Ingress
from .proxy.routing import RoutingOptions, routing_options
from .workers.flusher import run_flusher
from .workers.ratelimit import make_limiter
from .workers.sender import Sender, SenderOptions
from .workers.sweeper import run_sweeper
from .workers.webhooks import WebhookWorker

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]

# The app's fallback when development runs without SECRET_KEY (app._configure).
DEVELOPMENT_SECRET_KEY = "development-only-not-secret"  # noqa: S105


class Runtime:
    def __init__(self, settings: Settings, *, background: bool = True) -> None:
        self.settings = settings
        self.db = Database(settings.database_url, engine_options(settings))
        self.broker: events.Broker = make_broker(settings)
        self.background = background
        self.outbox_wakeup = asyncio.Event()
        self.routing: RoutingOptions = routing_options(settings)
        self.templates = Templates(
            intro=settings.intro_template,
            goodbye=settings.goodbye_template,
            contact_policy=settings.contact_policy,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self.subscriptions = webhook_subscriptions.Subscriptions()
        self.webhook_wakeup = asyncio.Event()
        self.webhook_db = webhook_database(settings, self.db)
        for db in {id(self.db): self.db, id(self.webhook_db): self.webhook_db}.values():
            # The event log last: it takes PostgreSQL's event-order lock, held to commit.
            db.before_commit.append(self._queue_webhooks)
            db.before_commit.append(events.write_pending)
            db.after_commit.append(self._after_commit)
        # One writer per process: webhooks, receipts and the sender's results that
        # arrive together commit together.
        self.writer = GroupCommit(self.db)
        self.ingress = Ingress(self.writer, self.routing)
        self.carrier = make_carrier(settings, self.db, self.receive_receipt)
        self.sender = Sender(self.db, self.carrier, sender_options(settings), self.writer)
        box = SecretBox(settings.secret_key or DEVELOPMENT_SECRET_KEY)
        self.webhooks = Dispatcher(self.webhook_db, box, webhook_options(settings))
        self.webhook_worker = WebhookWorker(self.webhooks)

    async def _queue_webhooks(self, session: AsyncSession) -> None:
        await webhook_subscriptions.queue_deliveries(session, self.subscriptions)

    async def _after_commit(self, session: AsyncSession) -> None:
        pending = events.take_pending(session)
        if any(event.name == events.WebhookEndpointsChanged.name for event in pending):
            self.subscriptions.invalidate()
        if webhook_subscriptions.took_new_rows(session):
            self.webhook_wakeup.set()
        if pending:
            try:
                await self.broker.publish(pending)
            except Exception:
                # The events are durable; live pages catch up when they reconnect.
                log.exception("publishing %d live events failed", len(pending))
        if took_new_rows(session):
            self.outbox_wakeup.set()

    async def receive_receipt(self, receipt: Receipt) -> None:
        """A receipt from a carrier that reports in-process (the sandbox's network)."""
        await self.ingress.receive_receipt(receipt)

    async def run_sender(self) -> None:
        await self.sender.run(self.outbox_wakeup, make_limiter(self.settings))

    async def run_sweeper(self) -> None:
        await run_sweeper(
            self.db,
            self.templates,
            self.settings.sweep_interval_seconds,
            self.settings.retention_days,
        )

    async def run_flusher(self) -> None:
        max_age = timedelta(seconds=self.settings.concat_timeout_seconds)
        await run_flusher(self.db, self.routing, max_age)

    async def run_webhooks(self) -> None:
        await self.webhook_worker.run(self.webhook_wakeup)

    async def watch_endpoints(self) -> None:
        """Reload the endpoint list when another process changes an endpoint; after a
        broken subscription (which may have missed one), reload anyway."""
        while True:
            self.subscriptions.invalidate()
            async for event in self.broker.subscribe():
                if event.name == events.WebhookEndpointsChanged.name:
                    self.subscriptions.invalidate()
            await asyncio.sleep(0.5)

    def jobs(self) -> dict[str, Job]:
        """The background loops a serving process runs."""
        return {
            "sweeper": self.run_sweeper,
            "multipart": self.run_flusher,
            "sender": self.run_sender,
            "webhooks": self.run_webhooks,
            "webhook-endpoints": self.watch_endpoints,
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
        await self.carrier.aclose()  # the sandbox's pending receipts go first
        await self.writer.aclose()  # then what was submitted commits, and is published
        await self.webhooks.aclose()
        await self.broker.stop()
        await self.db.dispose()
        if self.webhook_db is not self.db:
            await self.webhook_db.dispose()


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


def sender_options(settings: Settings) -> SenderOptions:
    return SenderOptions(
        concurrency=settings.send_concurrency,
        rate_per_second=settings.send_rate_per_second,
        lease_seconds=settings.send_lease_seconds,
        max_age_seconds=settings.send_max_age_seconds,
        carrier_timeout_seconds=settings.vonage_timeout_seconds,
    )


def webhook_options(settings: Settings) -> WebhookOptions:
    return WebhookOptions(
        timeout_seconds=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        retry_seconds=settings.webhook_retry_seconds,
        disable_after_seconds=settings.webhook_disable_after_seconds,
        log_days=settings.webhook_log_days,
    )


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        timeout_seconds=settings.database_timeout_seconds,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )


def webhook_database(settings: Settings, db: Database) -> Database:
    """On PostgreSQL, webhook deliveries get an engine of their own, a few connections
    for short claim and record transactions: however many requests to slow endpoints are
    being recorded, SMS never wait for a connection behind them. SQLite has one writer
    per process, which they share."""
    if db.dialect == "sqlite":
        return db
    options = EngineOptions(
        timeout_seconds=settings.database_timeout_seconds, pool_size=2, max_overflow=4
    )
    return Database(settings.database_url, options)


def make_broker(settings: Settings) -> events.Broker:
    if settings.redis_url:
        return RedisBroker(settings.redis_url)
    return events.MemoryBroker()


def make_carrier(
    settings: Settings, db: Database, report: Callable[[Receipt], Coroutine[Any, Any, None]]
) -> Carrier:
    if settings.carrier == "vonage":
        if settings.vonage_api == "messages":
            return VonageMessagesCarrier(settings)
        return VonageCarrier(settings)
    return SandboxCarrier(db, report)

"""Live events across processes: Redis pub/sub in front of the in-process broker.

Every process publishes its committed events to one Redis channel and runs one listener
that fans what it hears out to its local subscribers (an embedded MemoryBroker), so a
hundred browsers on a process cost one Redis subscription.

Signals (transient, never stored: "someone is writing") travel the same way on a
channel of their own, `<channel>:signals`, through the same subscription.

Redis pub/sub forgets what it could not deliver. After the listener reconnects it ends
every local subscription: subscribers (the live WebSocket) read that as "you may have
missed something" and catch up from the durable event log, so a Redis restart costs a
page nothing. Publishing never fails the caller's request for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .broker import Event, MemoryBroker, Signal, SignalListener

log = logging.getLogger(__name__)

CHANNEL = "smsproxy:events"
# A silent network (no RST) never raises by itself: ping when Redis has been quiet
# this long, and give up on the connection when even the ping goes unanswered.
PING_SECONDS = 15.0
PUBLISH_TIMEOUT_SECONDS = 2.0


class RedisBroker:
    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        retry_min_seconds: float = 0.2,
        retry_max_seconds: float = 10.0,
        start_timeout_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.signal_channel = channel + ":signals"
        self._retry_min = retry_min_seconds
        self._retry_max = retry_max_seconds
        self._start_timeout = start_timeout_seconds
        self._local = MemoryBroker()
        self._publisher: Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._publish_failing = False
        self.reconnects = 0
        # Shows up in CLIENT LIST, so an operator can tell which process holds which link.
        self.client_name = f"smsproxy-{os.getpid()}-{secrets.token_hex(3)}"

    async def start(self) -> None:
        # One retry covers a pooled connection that died with a Redis restart; more would
        # hold up the request whose commit is being published.
        self._publisher = Redis.from_url(
            self.url,
            socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
            socket_timeout=PUBLISH_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
            client_name=self.client_name + "-pub",
        )
        self._listener = asyncio.create_task(self._listen(), name="redis-events-listener")
        # Serving without Redis beats not serving: the listener keeps trying.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._start_timeout):
                await self.wait_subscribed()

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._subscribed.clear()
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None
        await self._local.stop()

    async def wait_subscribed(self) -> None:
        """Wait until the listener is subscribed (and hears every later publish)."""
        await self._subscribed.wait()

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count

    async def publish(self, events: list[Event]) -> None:
        if not events:
            return
        if self._publish_failing and not self._subscribed.is_set():
            # Redis is still out of reach: no request should wait on its timeouts again.
            self._local.deliver(events)
            return
        try:
            if self._publisher is None:
                raise RuntimeError("RedisBroker.publish() before start()")
            async with self._publisher.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(self.channel, json.dumps(event.as_json()))
                await pipe.execute()
        except (RedisError, OSError, RuntimeError) as error:
            # This process's pages still hear it. Other processes' pages catch up from the
            # log when their listener reconnects after the outage; if only this process
            # lost Redis, theirs see it at their next reconnect or reload.
            self._local.deliver(events)
            if not self._publish_failing:
                self._publish_failing = True
                log.warning(
                    "publishing live events to Redis failed (%s); delivering them in this "
                    "process only until Redis is back",
                    type(error).__name__,
                )
            return
        if self._publish_failing:
            self._publish_failing = False
            log.warning("publishing live events to Redis works again")

    async def signal(self, signal: Signal) -> None:
        """Tell every process's pages; a signal that cannot reach Redis reaches this
        process's pages only (it matters for seconds: nothing to catch up later)."""
        try:
            if self._publisher is None or not self._subscribed.is_set():
                raise RuntimeError("no Redis subscription")
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await self._publisher.publish(self.signal_channel, json.dumps(signal.as_json()))
        except (RedisError, OSError, RuntimeError, TimeoutError):
            self._local.deliver_signal(signal)

    def on_signal(self, listener: SignalListener) -> Callable[[], None]:
        return self._local.on_signal(listener)

    def subscribe(self) -> AsyncIterator[Event]:
        """Local subscription; it is registered on the iterator's first step and ends
        when the broker stops or after a Redis reconnect (catch up from the log)."""
        return self._local.subscribe()

    async def _listen(self) -> None:
        delay = self._retry_min
        outage = False
        while True:
            connections = self.reconnects
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.reconnects != connections:
                    delay, outage = self._retry_min, False
                pause = delay * random.uniform(0.5, 1.0)
                expected = isinstance(error, RedisError | OSError)
                # One warning per outage; the retries are noise once it is known.
                level = logging.WARNING if not outage or not expected else logging.INFO
                log.log(
                    level,
                    "Redis subscription for live events lost (%s); reconnecting in %.1f s",
                    type(error).__name__,
                    pause,
                    exc_info=not expected,
                )
                outage = True
                await asyncio.sleep(pause)
                delay = min(delay * 2, self._retry_max)

    async def _listen_once(self) -> None:
        # redis-py would retry silently; this loop reconnects itself so that it knows
        # when a gap may have opened.
        client = Redis.from_url(
            self.url,
            socket_connect_timeout=5,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
            client_name=self.client_name + "-sub",
        )
        pubsub: Any = client.pubsub()  # redis-py leaves PubSub.aclose untyped
        try:
            await pubsub.subscribe(self.channel, self.signal_channel)
            await self._await_confirmation(pubsub)
            if self.reconnects:
                log.warning("Redis subscription for live events is back")
            self.reconnects += 1
            self._subscribed.set()
            # Whatever was published while nobody listened is only in the event log.
            self._local.end_subscriptions()
            await self._relay(pubsub)
        finally:
            self._subscribed.clear()
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _await_confirmation(self, pubsub: Any) -> None:
        waiting = {self.channel, self.signal_channel}
        async with asyncio.timeout(PING_SECONDS):
            while waiting:
                message = await pubsub.get_message(timeout=PING_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    waiting.discard(_text(message["channel"]))

    async def _relay(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=PING_SECONDS / 3)
            now = loop.time()
            if message is not None:
                heard = now
                pinged = False
                if message["type"] == "message":
                    if _text(message["channel"]) == self.signal_channel:
                        self._deliver_signal(message["data"])
                    else:
                        self._deliver(message["data"])
                continue
            if now - heard < PING_SECONDS:
                continue
            if pinged:
                raise ConnectionError("Redis did not answer a ping")
            await pubsub.ping()
            pinged = True

    def _deliver_signal(self, raw: bytes | str) -> None:
        try:
            signal = Signal.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed message on Redis channel %s", self.signal_channel)
            return
        self._local.deliver_signal(signal)

    def _deliver(self, raw: bytes | str) -> None:
        try:
            event = Event.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            # Another producer on the channel; the payload may hold anything, so no echo.
            log.warning("ignored a malformed message on Redis channel %s", self.channel)
            return
        self._local.deliver([event])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

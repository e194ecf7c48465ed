"""Live fan-out: many staff pages on the chat list, and what one inbound SMS costs them.

smsproxy runs as `smsproxy run` (SQLite, one process, the in-memory event bus). One
staff user logs in through the form (which allows 10 attempts a minute per address, so
one login serves them all); every client opens `/live` with that login and subscribes
to the chat list. Webhooks then arrive at a steady pace, and for each the
benchmark times how long until every client had its `message.created` event. The
server's memory is read with the clients connected, after they left, and after a
second crowd came and went (does memory come back?).
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from .apps import SEND_RATE, create_chat, embedded_smsproxy
from .carrier import FakeCarrier
from .servers import ServerError, run_command
from .stats import megabytes, ms, percentile
from .throughput import webhook_target
from .web import Browser, HttpError
from .wsclient import Delivery, LiveClients

SETTLE_SECONDS = 3.0  # for the server to let go of closed sockets before RSS is read


@dataclass
class FanoutResult:
    clients: int
    interval: float  # seconds between webhooks
    connected: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    rss_idle: int = 0
    rss_connected: int = 0
    rss_after: int = 0
    rss_after_second: int = 0
    broken: str | None = None

    def every_client(self) -> list[float]:
        """Per webhook: until the last client had it (inf if one never did)."""
        return [
            math.inf if any(math.isnan(a) for a in d.arrivals) else d.to_every_client
            for d in self.deliveries
        ]

    def each_client(self) -> list[float]:
        return [a - d.sent for d in self.deliveries for a in d.arrivals if not math.isnan(a)]

    def missed(self) -> int:
        return sum(math.isnan(a) for d in self.deliveries for a in d.arrivals)

    def p99(self) -> float:
        return percentile(self.every_client(), 0.99)


def run_fanout(clients: int, webhooks: int, interval: float, workdir: Path) -> FanoutResult:
    result = FanoutResult(clients, interval)
    print(f"\n== live fan-out: {clients} WebSocket clients on the chat list, smsproxy run, SQLite")
    directory = workdir / "fanout"
    directory.mkdir()
    username, password = "bench-staff", secrets.token_urlsafe(18)
    try:
        with FakeCarrier() as carrier:
            env = {**carrier.environment, "SEND_RATE_PER_SECOND": SEND_RATE}
            run_command(
                ["smsproxy", "users", "create", username, "--password-stdin"],
                env,
                directory,
                stdin=password + "\n",
            )
            with embedded_smsproxy("fanout", env, directory) as (server, key):
                route = create_chat(server.port, key)
                browser = Browser(server.port)
                browser.log_in(username, password)
                browser.close()
                target = webhook_target(route, secrets.token_hex(3), "f", text="fan+")
                targets = [target(n) for n in range(webhooks + 1)]
                result.rss_idle = server.rss_bytes()
                with LiveClients(server.port, browser.cookie_header()) as live:
                    result.connected = _connect(live, clients)
                    # The first webhook proves every subscription is live; it is not timed.
                    live.measure(targets[:1], 0, interval, 30)
                    result.deliveries = live.measure(targets[1:], 1, interval, 30)
                    result.rss_connected = server.rss_bytes()
                    live.disconnect()
                    time.sleep(SETTLE_SECONDS)
                    result.rss_after = server.rss_bytes()
                    _connect(live, clients)
                    live.disconnect()
                    time.sleep(SETTLE_SECONDS)
                    result.rss_after_second = server.rss_bytes()
    except (ServerError, HttpError, RuntimeError) as error:
        result.broken = str(error)
        print(f"  BROKEN: {error}")
        return result
    print_fanout(result)
    return result


def _connect(live: LiveClients, clients: int) -> int:
    started = time.monotonic()
    connected, failures = live.connect(clients)
    print(
        f"  {connected} of {clients} clients connected and subscribed in "
        f"{time.monotonic() - started:.1f} s"
        + (f"; {len(failures)} failed, e.g. {failures[0]}" if failures else ""),
        flush=True,
    )
    if not connected:
        raise RuntimeError("no live client could connect")
    return connected


def print_fanout(result: FanoutResult) -> None:
    every, each = result.every_client(), result.each_client()
    print(
        "\n".join(
            [
                f"  webhook -> every client had the event  p50 {ms(percentile(every, 0.5))}, "
                f"p99 {ms(percentile(every, 0.99))} ({len(result.deliveries)} webhooks, "
                f"one every {result.interval:g} s)",
                f"  webhook -> one client had the event    p50 {ms(percentile(each, 0.5))}, "
                f"p99 {ms(percentile(each, 0.99))} (events missed: {result.missed()})",
                f"  server RSS  idle {megabytes(result.rss_idle)}, "
                f"{result.connected} connected {megabytes(result.rss_connected)}, "
                f"after they left {megabytes(result.rss_after)}, "
                f"after a second crowd came and went {megabytes(result.rss_after_second)}",
            ]
        ),
        flush=True,
    )

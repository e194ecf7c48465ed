"""Live fan-out: how long an inbound SMS takes to reach every open chat list, and what
the sockets cost the server in memory, held and after they close.

    python -m tests.benchmarks.live_fanout [--clients N] [--events N] [--rounds N]
                                           [--database-url URL] [--trace]

The app runs under hypercorn in a process of its own (sandbox carrier, its sender
running); this process opens `--clients` WebSockets on `/live`, each subscribed to the
chat list, then sends `--events` inbound SMS webhooks one after another and times each
from the webhook's request to its `message.created` frame at every socket (arrival is
stamped as the bytes come in, before any parsing). It then closes them all; `--rounds`
repeats connect, events and close, so memory that keeps growing round after round shows.

The server process reports its RSS before, with every socket open, after they closed,
and after `gc.collect()` plus glibc's `malloc_trim(0)`: what trimming gives back was
free memory the allocator held on to, not objects still alive. `--trace` also starts
tracemalloc in the server (slower) and prints, after each round, the live Python
objects by type and the allocation sites that grew since the round before.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.benchmarks.client import HttpConnection
from tests.benchmarks.live_clients import Bench, close_clients, open_clients, percentile
from tests.benchmarks.probed_server import ProbedServer
from tests.server import TEST_SECRET_KEY

PROXY_NUMBER = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
STAFF = "fanout-bench"
EVENT_TIMEOUT = 30.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.live_fanout",
        description="Live WebSocket fan-out latency and server memory.",
    )
    parser.add_argument("--clients", type=int, default=1000, help="WebSockets per round")
    parser.add_argument("--events", type=int, default=30, help="inbound SMS per round")
    parser.add_argument("--rounds", type=int, default=2, help="connect, send, close: how often")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="seconds between one SMS reaching every socket and the next webhook",
    )
    parser.add_argument(
        "--abort", action="store_true", help="drop the connections instead of closing them"
    )
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument(
        "--trace", action="store_true", help="tracemalloc in the server: what grew per round"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 5000 or not 1 <= args.events <= 10_000 or args.rounds < 1:
        parser.error("--clients 1..5000, --events 1..10000, --rounds at least 1")
    return args


# -- the server, in a process of its own ----------------------------------------------


# -- the data ---------------------------------------------------------------------------


def settings_env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SMSPROXY_ENV": "test",
        "CARRIER": "sandbox",
        "LOG_LEVEL": "WARNING",
    }


async def seed(database_url: str) -> tuple[str, str]:
    """Migrate, add a chat and a staff user; return the login cookie (name, value)."""
    from quart_auth import generate_auth_token

    from smsproxy.app import create_app
    from smsproxy.config import Settings
    from smsproxy.migrate import upgrade
    from smsproxy.proxy import users
    from smsproxy.web.guards import auth_id_for
    from tests.helpers import add_numbers, start_chat

    await asyncio.to_thread(upgrade, database_url)
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        smsproxy_env="test",
        redis_url=None,
        carrier="sandbox",
    )
    app = create_app(settings, background=False)
    runtime = app.extensions["smsproxy"]
    await runtime.start()
    try:
        await add_numbers(runtime, PROXY_NUMBER)
        await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
        async with runtime.db.transaction() as session:
            user = await users.create_user(session, STAFF, "a long enough password", "agent")
        client = app.test_client()
        cookie_name = app.extensions["QUART_AUTH"][0].cookie_name
        return cookie_name, generate_auth_token(client, auth_id_for(user))
    finally:
        await runtime.stop()


# -- the clients ------------------------------------------------------------------------


async def send_events(
    port: int, bench: Bench, count: int, interval: float, tag: str
) -> list[float]:
    """Send the SMS one by one; return how long each webhook took to answer (ms)."""
    http = HttpConnection("127.0.0.1", port)
    answered: list[float] = []
    for number in range(-1, count):
        # The first SMS warms up (and proves every socket is subscribed); it is not timed.
        body = f"fan-out {tag} {number}"
        done = bench.expect(body)
        form = {
            "msisdn": ALICE[1:],
            "to": PROXY_NUMBER[1:],
            "messageId": f"FANOUT-{tag}-{number}",
            "text": body,
            "type": "text",
        }
        bench.sent_at[body] = sent = time.monotonic()
        status = await http.post_form("/webhooks/inbound-sms", urlencode(form).encode())
        if number >= 0:
            answered.append((time.monotonic() - sent) * 1000)
        if status != 204:
            raise RuntimeError(f"the webhook answered {status}")
        async with asyncio.timeout(EVENT_TIMEOUT):
            await done
        if number < 0:
            del bench.latencies[body]
        await asyncio.sleep(interval)
    await http.close()
    return answered


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


# -- the run ----------------------------------------------------------------------------


async def one_round(server: ProbedServer, cookie: str, args: argparse.Namespace, tag: str) -> None:
    bench = Bench(args.clients)
    began = time.monotonic()
    clients = await open_clients(server.port, cookie, bench)
    print(
        f"  {len(clients)} sockets open in {time.monotonic() - began:.1f} s; "
        f"server RSS {server.ask('rss'):.0f} MB"
    )
    cpu = server.ask("cpu")
    answered = await send_events(server.port, bench, args.events, args.interval, tag)
    cpu_ms = (server.ask("cpu") - cpu) * 1000 / (args.events + 1)
    every = [value * 1000 for values in bench.latencies.values() for value in values]
    slowest = [max(values) * 1000 for values in bench.latencies.values()]
    print(
        f"  webhook -> socket, {len(every)} frames: p50 {percentile(every, 0.5):.0f} ms, "
        f"p99 {percentile(every, 0.99):.0f} ms, max {max(every):.0f} ms"
    )
    print(
        f"  webhook -> every socket, {len(slowest)} SMS: p50 {percentile(slowest, 0.5):.0f} ms, "
        f"p99 {percentile(slowest, 0.99):.0f} ms"
    )
    print(
        f"  webhook answered (committed, published) in: p50 {percentile(answered, 0.5):.0f} ms, "
        f"p99 {percentile(answered, 0.99):.0f} ms"
    )
    print(f"  server CPU per SMS (webhook, routing, sender, fan-out): {cpu_ms:.0f} ms")
    print(f"  server RSS with {args.clients} sockets: {server.ask('rss'):.0f} MB")
    await close_clients(clients, abort=args.abort)
    if not await asyncio.to_thread(wait_for, lambda: server.ask("sockets") == 0, 30):
        print(f"  the server still holds {server.ask('sockets')} sockets")
    await asyncio.sleep(1)
    report = server.ask("trim")
    print(f"  after close: {memory(report)}")
    print(f"  object types that grew: {report['grown_objects']}")
    if "traced_mb" in report:
        print(f"  traced by tracemalloc {report['traced_mb']:.1f} MB; sites that grew:")
        for line in report["grown_sites"]:
            print(f"    {line}")


def memory(report: dict[str, Any]) -> str:
    return (
        f"RSS {report['before_trim']:.0f} MB, after gc + malloc_trim "
        f"{report['after_trim']:.0f} MB; "
        f"Python objects: {report['live_objects']:,}, {report['objects_mb']:.0f} MB in "
        f"{report['arenas_mb']:.0f} MB of arenas; glibc heap: "
        f"{report.get('heap_in_use_mb', math.nan):.0f} MB in use, "
        f"{report.get('heap_free_mb', math.nan):.0f} MB free"
    )


async def run(args: argparse.Namespace, database_url: str) -> None:
    name, token = await seed(database_url)
    cookie = f"{name}={token}"
    with ProbedServer(settings_env(database_url), args.trace) as server:
        start = server.ask("trim")
        print(f"server (pid {server.ask('pid')}) at start: {memory(start)}")
        for number in range(args.rounds):
            print(f"round {number + 1}: {args.clients} sockets, {args.events} SMS")
            await one_round(server, cookie, args, str(number))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'fanout.db'}"
        asyncio.run(run(args, url))
    return 0


if __name__ == "__main__":
    sys.exit(main())

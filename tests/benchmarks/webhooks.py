"""Inbound webhook throughput, latency, and the time until every SMS is forwarded.

    python -m tests.benchmarks.webhooks [--database-url URL] [--workers N]
                                        [--count N] [--concurrency N]

The app runs under hypercorn on a loopback port as in production, with CARRIER=vonage
pointed at the fake Vonage server (run in a process of its own, so that it does not
share a GIL with the load generator). One chat is created; then `--count` inbound SMS
webhooks from one participant are POSTed, `--concurrency` at a time, and each is
forwarded to the other participant through the sender worker. It prints webhook
throughput and latency, and the time until the fake carrier had every forwarded SMS.

The database is a temporary SQLite file, or a fresh database created next to the one a
PostgreSQL URL names (and dropped afterwards); nothing else on that server is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from smsproxy.config import Settings
from smsproxy.runtime import Runtime
from tests.benchmarks.client import LoadResult, post_forms
from tests.helpers import add_numbers, start_chat
from tests.server import TEST_SECRET_KEY, AppServer

PROXY_NUMBER = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
MAX_COUNT = 100_000
POLL_SECONDS = 0.05


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.webhooks",
        description="Inbound webhook throughput and latency, and end-to-end forwarding time.",
    )
    parser.add_argument(
        "--database-url",
        help="sqlite:///path, or postgresql://… whose server gets a fresh database for the "
        "run (default: a temporary SQLite file)",
    )
    parser.add_argument("--workers", type=_bounded(1, 16), default=1, help="hypercorn workers")
    parser.add_argument(
        "--count", type=_bounded(1, MAX_COUNT), default=2000, help="webhooks to send"
    )
    parser.add_argument(
        "--concurrency", type=_bounded(1, 512), default=32, help="webhooks in flight at once"
    )
    parser.add_argument(
        "--send-concurrency",
        type=_bounded(1, 256),
        default=16,
        help="SEND_CONCURRENCY of the app (SMS sent at once per process)",
    )
    parser.add_argument(
        "--timeout", type=_bounded(5, 3600), default=300, help="give up after this many seconds"
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="send from a separate `smsproxy worker` process; the web runs with "
        "BACKGROUND_JOBS=off",
    )
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="the fake Vonage keeps connections open between requests, as Vonage does "
        "(by default each send opens a new TLS connection)",
    )
    args = parser.parse_args(argv)
    if args.database_url and not args.database_url.startswith(
        ("sqlite:///", "postgresql://", "postgresql+asyncpg://", "postgres://")
    ):
        parser.error("--database-url must start with sqlite:/// or postgresql://")
    return args


def _bounded(low: int, high: int) -> type[int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    parse.__name__ = "int"
    return parse  # type: ignore[return-value]


# -- the fake carrier, in a process of its own --------------------------------------------


def serve_fake_vonage(connection: Connection, keep_alive: bool) -> None:
    """Child process: run the fake; answer each poll with (SMS accepted, time of the last)."""
    from tests.fakes.vonage_server import FakeVonage

    fake = FakeVonage(keep_alive=keep_alive).start()
    try:
        connection.send(fake.environment())
        while connection.recv() == "poll":
            accepted = fake.sent
            connection.send((len(accepted), max((item.at for item in accepted), default=0.0)))
    except EOFError:
        pass
    finally:
        fake.stop()


class FakeCarrier:
    def __init__(self, keep_alive: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=serve_fake_vonage, args=(child, keep_alive), name="fake-vonage", daemon=True
        )

    def __enter__(self) -> FakeCarrier:
        self._process.start()
        if not self._connection.poll(30):
            raise RuntimeError("the fake Vonage server did not start")
        self.environment: dict[str, str] = self._connection.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._connection.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def poll(self) -> tuple[int, float]:
        self._connection.send("poll")
        count, last_at = self._connection.recv()
        return count, last_at


# -- the database ---------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(url: str | None, directory: Path) -> Iterator[str]:
    if not url:
        yield f"sqlite:///{directory / 'benchmark.db'}"
        return
    if url.startswith("sqlite"):
        yield url
        return
    import asyncpg

    parts = urlsplit(url)
    name = f"smsproxy_bench_{uuid.uuid4().hex[:10]}"
    admin_url = urlunsplit(parts._replace(scheme="postgresql"))

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def create_chat(database_url: str) -> None:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        smsproxy_env="test",
        redis_url=None,
        carrier="sandbox",
        vonage_api_key=None,
        vonage_api_secret=None,
        vonage_signature_secret=None,
    )
    runtime = Runtime(settings, background=False)
    await runtime.start()
    try:
        await add_numbers(runtime, PROXY_NUMBER)
        await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    finally:
        await runtime.stop()


# -- the run ----------------------------------------------------------------------------


def webhook_bodies(count: int) -> Iterator[bytes]:
    for number in range(count):
        fields = {
            "msisdn": ALICE[1:],
            "to": PROXY_NUMBER[1:],
            "messageId": f"BENCH{number:08d}",
            "text": f"benchmark message {number}",
            "type": "text",
        }
        yield urlencode(fields).encode()


def wait_for_carrier(fake: FakeCarrier, expected: int, deadline: float) -> tuple[int, float]:
    count, last_at = fake.poll()
    while count < expected and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        count, last_at = fake.poll()
    return count, last_at


def describe(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return "SQLite"
    return f"PostgreSQL at {parts.hostname}:{parts.port or 5432}"


def report(args: argparse.Namespace, url: str, load: LoadResult) -> None:
    ms = 1000.0
    print(
        f"{args.count} inbound SMS webhooks, {args.concurrency} at a time; "
        f"{args.workers} hypercorn worker(s); {describe(url)}; "
        f"SEND_CONCURRENCY={args.send_concurrency}"
        + ("; carrier connections kept alive" if args.keep_alive else "")
        + ("; sending from a separate worker process" if args.worker else "")
    )
    outcomes = ", ".join(f"{key}: {value}" for key, value in sorted(load.outcomes.items()))
    print(f"  answers        {outcomes}")
    print(
        f"  webhooks       {load.answered} in {load.seconds:.2f} s = "
        f"{load.answered / load.seconds:.0f} req/s"
    )
    print(
        f"  latency        p50 {load.percentile(0.50) * ms:.1f} ms, "
        f"p95 {load.percentile(0.95) * ms:.1f} ms, p99 {load.percentile(0.99) * ms:.1f} ms, "
        f"max {max(load.latencies, default=0.0) * ms:.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    with (
        tempfile.TemporaryDirectory(prefix="smsproxy-bench-") as directory,
        FakeCarrier(args.keep_alive) as fake,
        fresh_database(args.database_url, Path(directory)) as url,
    ):
        server = AppServer(
            {
                "DATABASE_URL": url,
                **fake.environment,
                "SEND_RATE_PER_SECOND": "100000",
                "SEND_CONCURRENCY": str(args.send_concurrency),
                **({"BACKGROUND_JOBS": "off"} if args.worker else {}),
            },
            log_dir=Path(directory),
            workers=args.workers,
        )
        server.migrate()
        asyncio.run(create_chat(url))
        with server, background_worker(server, args.worker):
            started_at = time.time()
            try:
                load = asyncio.run(fire(server.port, args, deadline))
            except TimeoutError:
                print(f"gave up: the webhooks took over {args.timeout} s", file=sys.stderr)
                return 1
            report(args, url, load)
            expected = load.count(204)
            early, _ = fake.poll()
            print(f"  forwarded      {early} SMS at the carrier when the last webhook was answered")
            count, last_at = wait_for_carrier(fake, expected, deadline)
            if count < expected:
                print(f"gave up: {count} of {expected} SMS reached the carrier in time")
                print(server.log_tail(), file=sys.stderr)
                return 1
        end_to_end = last_at - started_at
        print(
            f"  end to end     {count} SMS at the carrier {end_to_end:.2f} s after the first "
            f"webhook = {count / end_to_end:.0f} SMS/s "
            f"(the last {max(0.0, end_to_end - load.seconds):.2f} s after the last answer)"
        )
        return 0 if expected == args.count else 1


@contextlib.contextmanager
def background_worker(server: AppServer, wanted: bool) -> Iterator[None]:
    """`smsproxy worker` beside the web server, on its database and carrier."""
    if not wanted:
        yield
        return
    log = (server.log_dir / "worker.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "smsproxy", "worker"],
        env=server.env,
        cwd=server.log_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def fire(port: int, args: argparse.Namespace, deadline: float) -> LoadResult:
    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
        return await post_forms(
            "127.0.0.1", port, "/webhooks/inbound-sms", webhook_bodies(args.count), args.concurrency
        )


if __name__ == "__main__":
    sys.exit(main())

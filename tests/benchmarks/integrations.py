"""The webhook benchmark with an integration endpoint subscribed to every event.

    python -m tests.benchmarks.integrations [the options of tests.benchmarks.webhooks]

As `tests.benchmarks.webhooks` (the app under hypercorn, the fake Vonage server, one
chat, `--count` inbound SMS webhooks), plus a receiver on 127.0.0.1 registered as an
endpoint for every event type: each SMS then also queues a `message.received` and
`delivery.updated` events (queued, sent) for it. It prints the webhook throughput and
latency and the forwarding time, to compare with the benchmark without an endpoint,
and how long the events took to reach the receiver, signatures verified.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from smsproxy.runtime import Runtime
from tests.benchmarks.webhooks import (
    FakeCarrier,
    create_chat,
    fire,
    fresh_database,
    parse_args,
    report,
    wait_for_carrier,
)
from tests.conftest import make_settings
from tests.fakes.receiver import Receiver
from tests.helpers import add_endpoint
from tests.server import TEST_SECRET_KEY, AppServer


async def register(database_url: str, url: str) -> str:
    settings = make_settings(database_url, secret_key=TEST_SECRET_KEY)
    runtime = Runtime(settings, background=False)
    await runtime.start()
    try:
        _, secret = await add_endpoint(runtime, url)
        return secret
    finally:
        await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    with (
        tempfile.TemporaryDirectory(prefix="smsproxy-bench-") as directory,
        FakeCarrier() as fake,
        fresh_database(args.database_url, Path(directory)) as url,
        Receiver() as receiver,
    ):
        server = AppServer(
            {
                "DATABASE_URL": url,
                **fake.environment,
                "SEND_RATE_PER_SECOND": "100000",
                "SEND_CONCURRENCY": str(args.send_concurrency),
            },
            log_dir=Path(directory),
            workers=args.workers,
        )
        server.migrate()
        asyncio.run(create_chat(url))
        receiver.verify_with("/events", asyncio.run(register(url, receiver.url("/events"))))
        with server:
            started_at = time.monotonic()
            load = asyncio.run(fire(server.port, args, deadline))
            report(args, url, load)
            count, _ = wait_for_carrier(fake, load.count(204), deadline)
            print(f"  forwarded      {count} SMS at the carrier")
            # message.received, and delivery.updated queued and sent, for each SMS.
            expected = 3 * load.count(204)
            left = max(1.0, deadline - time.monotonic())
            try:
                got = receiver.wait_for(lambda got: len(got) >= expected, timeout=left)
            except AssertionError:
                print(f"gave up: {len(receiver.received)} of {expected} events arrived")
                return 1
            seconds = time.monotonic() - started_at
            verified = sum(r.verified for r in got)
            print(
                f"  events         {len(got)} at the endpoint ({verified} verified) "
                f"{seconds:.2f} s after the first webhook = {len(got) / seconds:.0f} events/s"
            )
        return 0


if __name__ == "__main__":
    sys.exit(main())

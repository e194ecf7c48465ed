"""The pipeline benchmark: inbound SMS in, forwarded SMS out, live pages, a large database.

    .venv/bin/python -m tests.benchmarks.pipeline            # everything, about 10 minutes
    .venv/bin/python -m tests.benchmarks.pipeline --smoke    # everything, tiny, about 1 minute
    .venv/bin/python -m tests.benchmarks.pipeline --only sqlite,naive --duration 5
    .venv/bin/python -m tests.benchmarks.pipeline --help

Everything runs on 127.0.0.1 and is driven only from outside smsproxy: its CLI, hypercorn,
the HTTP API, the webhooks, the login form, the /live WebSocket, and plain SQL to seed a
large database. Each app gets a fake Vonage server over TLS in a process of its own
(trusted through REQUESTS_CA_BUNDLE) that records when each SMS arrives. The load comes
from separate processes (`loadgen`), as GET inbound-SMS webhooks from one person of a
two-person chat, each with a unique messageId.

Sections (`--only` picks them):

  bare      a bare Quart app answering 204: the ceiling of Quart, hypercorn and the load
            generator on this machine (whose own ceiling is printed after it)
  naive     a naive forwarder: the vonage SDK called inline per webhook, no database
  sqlite    smsproxy as `smsproxy run` starts it (one process, SQLite, embedded defaults;
            CARRIER=vonage pointed at the fake)
  postgres  smsproxy under hypercorn with 2 workers on a fresh PostgreSQL database
            (created on --postgres-url's server, dropped afterwards; skipped if down)
  fanout    --clients staff WebSocket clients on the chat list
  scale     a seeded SQLite database, --scale x (100,000 chats, 1,000,000 messages)

SEND_RATE_PER_SECOND is lifted for the smsproxy apps: the carrier's 30/s default is a
setting, not the pipeline. Each app has two phases:

  closed loop   --connections keep-alive connections, each sending its next webhook when
                the last is answered, for --duration s: throughput
  open loop     --rate webhooks/s for --open-duration s, whatever happens; a request
                waits in the generator if every connection is busy, and its times count
                from when it was due (no coordinated omission)

After each phase the benchmark waits (up to --drain s) for the backlog of forwards to
reach the carrier, then matches every forward to its webhook. Figures:

  webhooks acknowledged  2xx answers per second while the load ran; the answers by status
  webhook response       p50/p95/p99 from sending (closed) or being due (open) to the answer
  forwards at carrier    SMS the fake carrier accepted per second while the load ran, and
                         overall (from the start to the last forward, backlog included)
  forward latency        p50/p95/p99 from the webhook being sent (closed) or due (open) to
                         its forward arriving at the carrier
  CPU per forward        user+system CPU of the server's process tree over the phase and
                         its drain (/proc), divided by the forwards
  lost                   webhooks acknowledged 2xx whose SMS never reached the carrier
  duplicated             webhooks whose SMS reached the carrier more than once
  misrouted              forwards to anyone but the other participant, or from anything
                         but that participant's proxy number
  longest stall          the longest time, from the start of the load to its last answer,
                         in which no request completed: a server that stood still
  x fwd/s, x p99, x CPU  ratios to the naive forwarder (summary table)

Live fan-out: one staff login through the form (CSRF token, cookie), then --clients
WebSocket clients on /live (same-site Origin) subscribed to the chat list; webhooks arrive
one at a time and each is timed until every client had its message.created event
("every client": p50/p99 over webhooks) and per client; --fanout-interval s apart, so
that each event's cost is seen rather than a queue of them. Server RSS (the process tree's)
idle, with the clients connected, after they left, and after a second crowd came and went.

Data scale: --repeats sequential requests of each kind (after one untimed) against the
seeded database: chat list page, a chat page, GET /api/v1/chats, a transcript, search by
reference and by name on the chat list, chat creation through the API; p50/p95/max.

With --profile DIR, py-spy samples each server through its closed loop (see `pyspy`).

The targets of issue 8 are printed as met or NOT met. The exit status is 0 whatever the
figures; 1 only when something broke (a server did not start or died, a count could not
be made), 2 for bad options.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .apps import App, BareApp, NaiveApp, PostgresApp, SqliteApp
from .datascale import ScaleResult, run_datascale
from .fanout import FanoutResult, run_fanout
from .report import print_generator_ceiling, print_summary, print_targets, verdicts
from .servers import REPO
from .throughput import AppResult, PhaseOptions, measure_app

SECTIONS = ("bare", "naive", "sqlite", "postgres", "fanout", "scale")
SMOKE = {
    "duration": 1.0,
    "open_duration": 1.0,
    "rate": 20.0,
    "connections": 4,
    "clients": 20,
    "fanout_webhooks": 3,
    "fanout_interval": 0.2,
    "scale": 0.001,
    "repeats": 3,
    "drain": 20.0,
    "grace": 5.0,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.pipeline",
        description="The pipeline benchmark (see the module docstring for every figure).",
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="closed loop, seconds")
    parser.add_argument("--open-duration", type=float, default=15.0, help="open loop, seconds")
    parser.add_argument("--rate", type=float, default=200.0, help="open loop, webhooks/s")
    parser.add_argument("--connections", type=int, default=50, help="load connections")
    parser.add_argument("--load-processes", type=int, default=1, help="load generator processes")
    parser.add_argument("--clients", type=int, default=1000, help="live fan-out clients")
    parser.add_argument("--fanout-webhooks", type=int, default=30, help="timed in fan-out")
    parser.add_argument(
        "--fanout-interval", type=float, default=1.0, help="seconds between fan-out webhooks"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="of 100,000 chats")
    parser.add_argument("--repeats", type=int, default=30, help="requests of each data-scale kind")
    parser.add_argument("--drain", type=float, default=120.0, help="max wait for forwards, s")
    parser.add_argument("--grace", type=float, default=60.0, help="max wait for answers, s")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a server where a fresh database may be created (and dropped)",
    )
    parser.add_argument("--keep", type=Path, help="keep server logs and databases in this dir")
    parser.add_argument(
        "--profile",
        type=Path,
        help="profile each server's closed loop with py-spy; raw stacks saved in this dir "
        "(sampling slows the server: figures of a profiled run are not the real ones)",
    )
    parser.add_argument("--smoke", action="store_true", help="everything, tiny, in seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}")
    positive = ("duration", "open_duration", "rate", "scale", "drain", "grace", "fanout_interval")
    for name in positive:
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be above 0")
    for name in ("connections", "load_processes", "clients", "fanout_webhooks", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def print_header(args: argparse.Namespace) -> None:
    revision = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"smsproxy pipeline benchmark, {time.strftime('%Y-%m-%d %H:%M')}, code {revision or '?'}\n"
        f"machine: {_cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"load average {_load()}"
        + ("\nsmoke run: tiny sizes, figures mean nothing" if args.smoke else ""),
        flush=True,
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def apps(args: argparse.Namespace) -> list[App]:
    chosen: dict[str, App] = {
        "bare": BareApp(),
        "naive": NaiveApp(),
        "sqlite": SqliteApp(),
        "postgres": PostgresApp(args.postgres_url),
    }
    return [app for name, app in chosen.items() if name in args.only]


def run(args: argparse.Namespace, workdir: Path) -> bool:
    """Every chosen section; False if one broke."""
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    closed = PhaseOptions(
        args.duration, args.connections, None, args.grace, args.drain, args.load_processes,
        args.profile,
    )  # fmt: skip
    opened = PhaseOptions(
        args.open_duration, args.connections, args.rate, args.grace, args.drain,
        args.load_processes,
    )  # fmt: skip
    results: list[AppResult] = []
    for app in apps(args):
        results.append(measure_app(app, closed, opened, workdir))
        if app.short == "bare":
            print_generator_ceiling(results[-1])
    fanout: FanoutResult | None = None
    if "fanout" in args.only:
        fanout = run_fanout(args.clients, args.fanout_webhooks, args.fanout_interval, workdir)
    scale: ScaleResult | None = None
    if "scale" in args.only:
        scale = run_datascale(args.scale, args.repeats, workdir)
    if results:
        print_summary(results)
    print_targets(verdicts(results, fanout, scale))
    print(f"\nload average at the end {_load()}")
    broken = [r.broken for r in results] + [s.broken for s in (fanout, scale) if s is not None]
    return not any(broken)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_header(args)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return 0 if run(args, Path(tempfile.mkdtemp(prefix="run-", dir=args.keep))) else 1
    with tempfile.TemporaryDirectory(prefix="smsproxy-bench-") as directory:
        return 0 if run(args, Path(directory)) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The pipeline under load: webhooks in, forwarded SMS out, per app, in two phases.

Each inbound-SMS webhook carries a token (in its messageId and its text) that comes back
in the forwarded SMS the fake carrier records, so every forward is matched to the
webhook that caused it: its latency, and whether it was lost, duplicated or misrouted.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from .apps import App, PostgresUnavailable, Route
from .carrier import FakeCarrier, Forward
from .loadgen import LoadResult, LoadSpec, run_load
from .pyspy import Profile
from .servers import Server, ServerError
from .stats import longest_gap, ms, p50_95_99, rate

TOKEN = re.compile(r"bench ([a-z])(\d+)")


@dataclass(frozen=True)
class PhaseOptions:
    duration: float
    connections: int
    rate: float | None  # None: closed loop
    grace: float  # for answers after the load
    drain: float  # for forwards after the answers
    processes: int = 1
    profile: Path | None = None  # directory for a py-spy profile of the server


@dataclass(frozen=True)
class WebhookTarget:
    """Request n of a phase: a GET inbound-SMS webhook, as Vonage sends it."""

    fields: str
    prefix: str  # of the messageId: unique to the run and phase
    text: str  # of the text, before the number

    def __call__(self, seq: int) -> str:
        query = f"{self.fields}&messageId={self.prefix}{seq}&text={self.text}{seq}"
        return f"/webhooks/inbound-sms?{query}"


def webhook_target(route: Route, run: str, tag: str, text: str | None = None) -> WebhookTarget:
    """Webhooks from the route's sender, with messageIds unique to `run` and `tag`, and
    texts `<text><n>` ("bench <tag><n>" unless said otherwise)."""
    fields = urlencode(
        {
            "msisdn": route.sender.removeprefix("+"),
            "to": route.sender_proxy.removeprefix("+"),
            "type": "text",
            "keyword": "BENCH",
            "message-timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }
    )
    return WebhookTarget(fields, f"{run}{tag}", text or f"bench+{tag}")


@dataclass
class Phase:
    label: str
    load: LoadResult
    forwards: list[Forward]  # this phase's only
    route: Route
    cpu_seconds: float
    expects_forwards: bool
    profile: str | None = None  # a summary of where the server's time went
    statuses: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.statuses = Counter(_status_name(s.status) for s in self.load.samples)

    @property
    def duration(self) -> float:
        return self.load.spec.duration

    def acked_rate(self) -> float:
        """Webhooks answered 2xx while the load ran, per second."""
        end = self.load.end
        return sum(s.ok and s.done <= end for s in self.load.samples) / self.duration

    def response_times(self) -> list[float]:
        return [s.latency for s in self.load.samples if not math.isnan(s.done)]

    def stall(self) -> float:
        done = [s.done for s in self.load.samples if not math.isnan(s.done)]
        return longest_gap(self.load.start, self.load.end, done)

    def _first_arrivals(self) -> dict[int, float]:
        first: dict[int, float] = {}
        for forward in self.forwards:
            seq = _seq(forward)
            first[seq] = min(first.get(seq, math.inf), forward.at)
        return first

    def forward_rate_during(self) -> float:
        return sum(f.at <= self.load.end for f in self.forwards) / self.duration

    def forward_rate_overall(self) -> float:
        if not self.forwards:
            return math.nan if not self.expects_forwards else 0.0
        last = max(f.at for f in self.forwards)
        return len(self.forwards) / max(last - self.load.start, self.duration)

    def drained_after(self) -> float:
        """Seconds from the end of the load to the last forward (0 if none came later)."""
        return max(0.0, max((f.at for f in self.forwards), default=math.nan) - self.load.end)

    def forward_latencies(self) -> list[float]:
        due = {s.seq: s.due for s in self.load.samples}
        return [at - due[seq] for seq, at in self._first_arrivals().items() if seq in due]

    def cpu_per_forward(self) -> float:
        return self.cpu_seconds / len(self.forwards) if self.forwards else math.nan

    def cpu_per_webhook(self) -> float:
        acked = len(self.load.acknowledged())
        return self.cpu_seconds / acked if acked else math.nan

    def lost(self) -> int:
        arrived = self._first_arrivals()
        return sum(s.seq not in arrived for s in self.load.acknowledged())

    def duplicated(self) -> int:
        return sum(count > 1 for count in Counter(_seq(f) for f in self.forwards).values())

    def misrouted(self) -> int:
        want = (
            self.route.recipient.removeprefix("+"),
            self.route.recipient_proxy.removeprefix("+"),
        )
        return sum((f.to, f.sender) != want for f in self.forwards)

    def forwarded_unacked(self) -> int:
        acked = {s.seq for s in self.load.acknowledged()}
        return sum(seq not in acked for seq in self._first_arrivals())


def _seq(forward: Forward) -> int:
    match = TOKEN.search(forward.text)
    assert match is not None
    return int(match.group(2))


def _status_name(status: int) -> str:
    return {0: "no answer", -1: "connection error"}.get(status, str(status))


def run_phase(
    tag: str, label: str, server: Server, carrier: FakeCarrier, route: Route, app: App,
    options: PhaseOptions, run: str,
) -> Phase:  # fmt: skip
    cpu_before = server.cpu_seconds()
    spec = LoadSpec(
        port=server.port,
        make_target=webhook_target(route, run, tag),
        connections=options.connections,
        duration=options.duration,
        rate=options.rate,
        grace=options.grace,
    )
    profile = None
    if options.profile is not None:
        path = options.profile / f"{app.short}-{'closed' if options.rate is None else 'open'}.txt"
        profile = Profile(server.pid, options.duration, path)
    load = run_load(spec, options.processes)
    summary = profile.finish() if profile is not None else None
    marker = f"bench {tag}"
    if app.forwards:
        carrier.wait_for(len(load.acknowledged()), options.drain, marker)
    cpu = server.cpu_seconds() - cpu_before
    forwards = [f for f in carrier.records() if marker in f.text]
    if not server.alive():
        raise ServerError(f"{app.name} died during the {label}:\n{server.log_tail()}")
    if not load.acknowledged():
        raise ServerError(f"no webhook was acknowledged in the {label}:\n{server.log_tail()}")
    return Phase(label, load, forwards, route, cpu, app.forwards, summary)


@dataclass
class AppResult:
    app: App
    closed: Phase | None = None
    open: Phase | None = None
    skipped: str | None = None
    broken: str | None = None


def measure_app(app: App, closed: PhaseOptions, opened: PhaseOptions, workdir: Path) -> AppResult:
    result = AppResult(app)
    print(f"\n== {app.name}", flush=True)
    run = secrets.token_hex(3)
    try:
        with FakeCarrier() as carrier, app.serve(carrier.environment, workdir) as (server, route):
            label = f"closed loop: {closed.connections} connections, {closed.duration:g} s"
            result.closed = run_phase("c", label, server, carrier, route, app, closed, run)
            print_phase(result.closed)
            label = (
                f"open loop: {opened.rate:g}/s offered for {opened.duration:g} s "
                f"on {opened.connections} connections"
            )
            result.open = run_phase("o", label, server, carrier, route, app, opened, run)
            print_phase(result.open)
    except PostgresUnavailable as error:
        result.skipped = f"PostgreSQL unreachable ({error})"
        print(f"  skipped: {result.skipped}")
    except (ServerError, RuntimeError) as error:
        result.broken = str(error)
        print(f"  BROKEN: {error}")
    return result


def print_phase(phase: Phase) -> None:
    load = phase.load
    answered = ", ".join(f"{name} x{count}" for name, count in sorted(phase.statuses.items()))
    started = time.strftime("%H:%M:%S", time.localtime(load.start))
    lines = [
        f"  {phase.label} (from {started})",
        f"    webhooks acknowledged  {rate(phase.acked_rate())} during the load "
        f"({len(load.samples)} sent: {answered})",
        f"    webhook response       p50/p95/p99 {p50_95_99(phase.response_times())}",
    ]
    if phase.expects_forwards:
        after = phase.drained_after()
        tail = f"the last {ms(after)} after the load" if after > 0 else "all during the load"
        lines += [
            f"    forwards at carrier    {rate(phase.forward_rate_during())} during the load, "
            f"{rate(phase.forward_rate_overall())} overall ({len(phase.forwards)}; {tail})",
            f"    forward latency        p50/p95/p99 {p50_95_99(phase.forward_latencies())}",
            f"    CPU per forward        {ms(phase.cpu_per_forward())} "
            f"(server processes, {phase.cpu_seconds:.1f} CPU-s in all)",
            f"    lost/dup/misrouted     {phase.lost()} / {phase.duplicated()} / "
            f"{phase.misrouted()} (forwarded but not acknowledged: {phase.forwarded_unacked()})",
        ]
    else:
        lines.append(f"    CPU per webhook        {ms(phase.cpu_per_webhook())}")
    lines.append(f"    longest stall          {ms(phase.stall())} with no request completed")
    if phase.profile:
        lines.append(phase.profile)
    print("\n".join(lines), flush=True)

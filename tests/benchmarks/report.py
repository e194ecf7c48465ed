"""The summary across apps, the load generator's own ceiling, and issue 8's targets."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .datascale import ScaleResult
from .fanout import FanoutResult
from .stats import megabytes, ms, percentile, rate, ratio
from .throughput import AppResult, Phase

FORWARD_SHARE = 0.8  # of the naive forwarder's forwards/s
STALL_LIMIT = 1.0  # seconds with no request completed that count as a stall
FANOUT_P99 = 0.100
FANOUT_RSS = 200_000_000
FANOUT_CLIENTS = 1000
SCALE_P95 = 0.050


def print_generator_ceiling(bare: AppResult | None) -> None:
    phase = bare.closed if bare else None
    if phase is None or not phase.load.cpu_seconds:
        return
    answered = sum(not math.isnan(s.done) for s in phase.load.samples)
    busy = phase.load.cpu_seconds / phase.duration
    print(
        f"\nload generator: {rate(answered / phase.duration)} against the bare app, using "
        f"{busy:.2f} CPU-s per s; its own ceiling is about "
        f"{rate(answered / phase.load.cpu_seconds)} per generator process"
        + (" (it was the bottleneck: add --load-processes)" if busy > 0.9 else "")
    )


def print_summary(results: list[AppResult]) -> None:
    naive = _phases(_find(results, "naive"))
    print(
        "\nsummary (closed loop: forwards/s during the load and overall, CPU per forward; "
        "open loop: forward p99; ratios to the naive forwarder)"
    )
    header = (
        f"  {'app':<9}{'ack/s':>8}{'fwd/s':>8}{'overall':>9}{'fwd p99':>10}{'CPU/fwd':>10}"
        f"{'lost/dup/mis':>14}{'stall':>9}{'x fwd/s':>9}{'x p99':>9}{'x CPU':>8}"
    )
    print(header)
    for result in results:
        phases = _phases(result)
        if phases is None:
            reason = result.skipped or result.broken or "not run"
            print(f"  {result.app.short:<9}{reason.splitlines()[0]}")
            continue
        closed, opened = phases
        stall = f"{ms(max(closed.stall(), opened.stall())):>9}"
        if not result.app.forwards:
            dashes = "".join(f"{'-':>{width}}" for width in (8, 9, 10, 10, 14))
            print(f"  {result.app.short:<9}{rate(closed.acked_rate()):>8}{dashes}{stall}")
            continue
        p99 = percentile(opened.forward_latencies(), 0.99)
        cells = [
            f"{rate(closed.acked_rate()):>8}",
            f"{rate(closed.forward_rate_during()):>8}",
            f"{rate(closed.forward_rate_overall()):>9}",
            f"{ms(p99):>10}",
            f"{ms(closed.cpu_per_forward()):>10}",
            f"{_faults(closed, opened):>14}",
            stall,
        ]
        if naive is not None:
            naive_p99 = percentile(naive[1].forward_latencies(), 0.99)
            cells += [
                f"{ratio(closed.forward_rate_during(), naive[0].forward_rate_during()):>9}",
                f"{ratio(p99, naive_p99):>9}",
                f"{ratio(closed.cpu_per_forward(), naive[0].cpu_per_forward()):>8}",
            ]
        print(f"  {result.app.short:<9}" + "".join(cells))


def _faults(*phases: Phase) -> str:
    lost = sum(p.lost() for p in phases)
    duplicated = sum(p.duplicated() for p in phases)
    misrouted = sum(p.misrouted() for p in phases)
    return f"{lost}/{duplicated}/{misrouted}"


def _find(results: list[AppResult], short: str) -> AppResult | None:
    return next((r for r in results if r.app.short == short), None)


def _phases(result: AppResult | None) -> tuple[Phase, Phase] | None:
    """The closed and open loop phases of an app that ran both."""
    if result is None or result.closed is None or result.open is None:
        return None
    return result.closed, result.open


@dataclass(frozen=True)
class Verdict:
    target: str
    met: bool | None  # None: not measured in this run
    figures: str

    def line(self) -> str:
        state = {True: "met", False: "NOT met", None: "not measured"}[self.met]
        return f"  {state:<13}{self.target}: {self.figures}"


def verdicts(
    results: list[AppResult], fanout: FanoutResult | None, scale: ScaleResult | None
) -> list[Verdict]:
    naive, sqlite = _phases(_find(results, "naive")), _phases(_find(results, "sqlite"))
    target = f"smsproxy on SQLite forwards >= {FORWARD_SHARE} x the naive forwarder, none lost"
    if naive is not None and sqlite is not None:
        mine, theirs = sqlite[0].forward_rate_during(), naive[0].forward_rate_during()
        lost = sqlite[0].lost() + sqlite[1].lost()
        figures = f"{rate(mine)} vs {FORWARD_SHARE} x {rate(theirs)}, {lost} lost"
        found = [Verdict(target, mine >= FORWARD_SHARE * theirs and lost == 0, figures)]
    else:
        found = [Verdict(target, None, "needs the naive and sqlite apps")]
    for short in ("sqlite", "postgres"):
        phases = _phases(_find(results, short))
        if phases is None:
            continue
        closed, opened = phases
        if naive is not None:
            mine = percentile(opened.forward_latencies(), 0.99)
            theirs = percentile(naive[1].forward_latencies(), 0.99)
            found.append(
                Verdict(
                    f"{short}: forward p99 at {opened.load.spec.rate:g}/s offered "
                    "<= the naive forwarder's",
                    mine <= theirs,
                    f"{ms(mine)} vs {ms(theirs)}",
                )
            )
        stall = max(closed.stall(), opened.stall())
        found.append(
            Verdict(
                f"{short}: no stall (no {STALL_LIMIT:g} s without a completed request)",
                stall < STALL_LIMIT,
                f"longest {ms(stall)}",
            )
        )
    found.append(_fanout_verdict(fanout))
    found.append(_scale_verdict(scale))
    return found


def _fanout_verdict(fanout: FanoutResult | None) -> Verdict:
    target = f"live fan-out p99 <= {ms(FANOUT_P99)}, RSS <= {megabytes(FANOUT_RSS)}"
    if fanout is None or fanout.broken or not fanout.deliveries:
        return Verdict(target, None, "not run" if fanout is None else "broken")
    p99 = fanout.p99()
    reduced = "" if fanout.clients >= FANOUT_CLIENTS else f" (only {fanout.clients} clients)"
    return Verdict(
        target,
        p99 <= FANOUT_P99 and fanout.rss_connected <= FANOUT_RSS,
        f"p99 {ms(p99)}, RSS {megabytes(fanout.rss_connected)} with "
        f"{fanout.connected} connected{reduced}",
    )


def _scale_verdict(scale: ScaleResult | None) -> Verdict:
    target = f"every data-scale p95 <= {ms(SCALE_P95)}"
    if scale is None or scale.broken or not scale.timings:
        return Verdict(target, None, "not run" if scale is None else "broken")
    p95 = scale.p95()
    over = [f"{name} {ms(value)}" for name, value in p95.items() if value > SCALE_P95]
    reduced = "" if scale.sizes.chats >= 100_000 else f" (only {scale.sizes.chats:,} chats)"
    worst = max(p95.items(), key=lambda item: item[1])
    figures = ("over: " + ", ".join(over)) if over else f"worst {worst[0]} {ms(worst[1])}"
    return Verdict(target, not over, figures + reduced)


def print_targets(found: list[Verdict]) -> None:
    print("\ntargets (issue 8)")
    for verdict in found:
        print(verdict.line())

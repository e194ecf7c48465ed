"""Percentiles, the stall detector and the way figures are written."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (NaN for no values): p99 of 100 values is the 99th."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def longest_gap(start: float, end: float, completions: Iterable[float]) -> float:
    """The longest time within [start, end] (and on to the last completion after it)
    in which no request completed: how long the server, seen from outside, stood still."""
    points = sorted(t for t in completions if t >= start)
    edges = [start, *points]
    if not points or points[-1] < end:
        edges.append(end)
    return max((b - a for a, b in itertools.pairwise(edges)), default=end - start)


def ms(seconds: float) -> str:
    """A duration for people: 0.42 ms, 12.3 ms, 450 ms, 4.20 s."""
    if math.isnan(seconds):
        return "n/a"
    if math.isinf(seconds):
        return "never"
    value = seconds * 1000
    if value < 1:
        return f"{value:.2f} ms"
    if value < 100:
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{seconds:.2f} s"


def rate(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.1f}/s" if value < 100 else f"{value:.0f}/s"


def ratio(value: float, reference: float) -> str:
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return "n/a"
    share = value / reference
    if share >= 100:
        return f"{share:.0f}x"
    return f"{share:.3f}x" if share < 0.1 else f"{share:.2f}x"


def p50_95_99(values: Sequence[float]) -> str:
    return " / ".join(ms(percentile(values, share)) for share in (0.50, 0.95, 0.99))


def megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"

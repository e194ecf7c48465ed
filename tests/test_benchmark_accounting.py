"""The pipeline benchmark's own arithmetic: the stall detector and how forwards are
matched to webhooks (lost, duplicated, misrouted). Its figures are only as good as this."""

from __future__ import annotations

import math

import pytest

from tests.benchmarks.apps import Route
from tests.benchmarks.carrier import Forward
from tests.benchmarks.loadgen import NO_ANSWER, LoadResult, LoadSpec, Sample
from tests.benchmarks.stats import longest_gap, percentile
from tests.benchmarks.throughput import Phase, webhook_target

ROUTE = Route("+447700900101", "+447700900901", "+447700900102", "+447700900902")


@pytest.mark.parametrize(
    ("completions", "expected"),
    [
        ([], 10.0),  # nothing answered: the whole load stood still
        ([1.0, 2.0, 9.5], 7.5),
        ([0.5, 10.0], 9.5),
        ([3.0, 25.0], 22.0),  # answers after the load count until the last of them
    ],
)
def test_longest_gap(completions: list[float], expected: float) -> None:
    assert longest_gap(0.0, 10.0, completions) == pytest.approx(expected)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0
    assert math.isnan(percentile([], 0.5))


def _phase(samples: list[Sample], forwards: list[Forward]) -> Phase:
    spec = LoadSpec(port=1, make_target=webhook_target(ROUTE, "r", "c"), connections=1, duration=10)
    load = LoadResult(spec, start=0.0, samples=samples)
    return Phase("test", load, forwards, ROUTE, cpu_seconds=1.0, expects_forwards=True)


def _forward(
    seq: int, at: float, to: str = "447700900102", sender: str = "447700900902"
) -> Forward:
    return Forward(to, sender, f"bench c{seq}", at)


def test_forwards_are_matched_to_webhooks() -> None:
    samples = [
        Sample(0, 0.0, 0.0, 0.1, 204),
        Sample(1, 1.0, 1.0, 1.1, 204),  # never forwarded: lost
        Sample(2, 2.0, 2.0, 2.1, 204),  # forwarded twice
        Sample(3, 3.0, 3.0, math.nan, NO_ANSWER),  # forwarded though never acknowledged
        Sample(4, 4.0, 4.0, 4.1, 503),  # refused, not forwarded: not lost
    ]
    forwards = [
        _forward(0, 0.5),
        _forward(2, 2.5),
        _forward(2, 12.0),
        _forward(3, 3.5, to="447700900101"),  # to the sender: misrouted
    ]
    phase = _phase(samples, forwards)
    assert phase.lost() == 1
    assert phase.duplicated() == 1
    assert phase.misrouted() == 1
    assert phase.forwarded_unacked() == 1
    assert sorted(phase.forward_latencies()) == pytest.approx([0.5, 0.5, 0.5])
    assert phase.forward_rate_during() == pytest.approx(0.3)  # 3 of 4 within 10 s
    assert phase.acked_rate() == pytest.approx(0.3)  # 2xx within the load, per second
    assert phase.stall() == pytest.approx(5.9)  # 4.1 to the end of the load


def test_webhook_target_carries_the_token_to_the_text() -> None:
    target = webhook_target(ROUTE, "run1", "o")(42)
    assert target.startswith("/webhooks/inbound-sms?msisdn=447700900101&to=447700900901&")
    assert "&messageId=run1o42&text=bench+o42" in target

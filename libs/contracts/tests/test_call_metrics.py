"""Latency percentiles and their summary."""

import pytest

from ori_contracts import LatencyStats, TurnLatency
from ori_contracts.call_metrics import percentile

pytestmark = pytest.mark.unit


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([5], 50, 5),
        ([5], 95, 5),
        ([1, 2, 3, 4], 50, 2),
        ([4, 3, 2, 1], 95, 4),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 100, 100),
    ],
)
def test_percentile_uses_nearest_rank(values: list[int], pct: float, expected: int) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize("pct", [0, -5, 101])
def test_percentile_rejects_out_of_range(pct: float) -> None:
    with pytest.raises(ValueError, match="percentile must be in"):
        percentile([1], pct)


def test_from_turns_summarises_total_latency() -> None:
    turns = [TurnLatency(turn_index=i, total_ms=ms) for i, ms in enumerate([900, 500, 700])]
    stats = LatencyStats.from_turns(turns)
    assert (stats.total_p50_ms, stats.total_p95_ms) == (700, 900)
    assert stats.turns == turns


def test_from_no_turns_has_no_percentiles() -> None:
    stats = LatencyStats.from_turns([])
    assert (stats.total_p50_ms, stats.total_p95_ms) == (None, None)

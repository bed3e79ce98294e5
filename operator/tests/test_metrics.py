"""The operator's reconcile metrics, read back as Prometheus text and parsed."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ori_operator import metrics

pytestmark = pytest.mark.unit

KIND = "MetricsTestKind"  # a label value no handler uses, so other tests cannot interfere


def _scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(REGISTRY).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_reconciles_are_counted_by_outcome_timed_and_errors_propagate() -> None:
    for _ in range(3):
        with metrics.observe_reconcile(KIND):
            pass
    with pytest.raises(RuntimeError, match="boom"), metrics.observe_reconcile(KIND):
        raise RuntimeError("boom")
    samples = _scrape()

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset({"kind": KIND, **labels}.items())), 0.0)

    assert value("ori_operator_reconcile_total", outcome="ok") == 3
    assert value("ori_operator_reconcile_total", outcome="error") == 1
    assert value("ori_operator_reconcile_errors_total") == 1
    histogram = "ori_operator_reconcile_duration_seconds"
    assert value(f"{histogram}_count") == 4
    assert value(f"{histogram}_sum") >= 0
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in samples.items()
        if name == f"{histogram}_bucket" and ("kind", KIND) in labels
    )
    assert [count for _, count in buckets] == sorted(count for _, count in buckets)
    assert buckets[-1] == (float("inf"), 4)

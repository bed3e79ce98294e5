"""Prometheus metrics of the operator: reconcile counts, errors and latency, pool sizes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "POD_ACTIONS",
    "RECONCILE_ERRORS",
    "RECONCILE_SECONDS",
    "RECONCILE_TOTAL",
    "WORKERS",
    "observe_reconcile",
]

RECONCILE_TOTAL = Counter(
    "ori_operator_reconcile_total", "Reconcile passes, by kind and outcome.", ["kind", "outcome"]
)
RECONCILE_ERRORS = Counter(
    "ori_operator_reconcile_errors_total", "Reconcile passes that failed, by kind.", ["kind"]
)
RECONCILE_SECONDS = Histogram(
    "ori_operator_reconcile_duration_seconds",
    "Wall time of one reconcile pass, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POD_ACTIONS = Counter(
    "ori_operator_pod_actions_total",
    "Worker pod actions: create, retire, drain, undrain, delete, conflict.",
    ["action"],
)
WORKERS = Gauge(
    "ori_operator_fleetpool_workers",
    "Workers of a FleetPool by role, as last observed.",
    ["namespace", "fleetpool", "role"],
)


@contextmanager
def observe_reconcile(kind: str) -> Iterator[None]:
    """Count and time one reconcile pass; an exception counts as an error and propagates."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        RECONCILE_ERRORS.labels(kind).inc()
        RECONCILE_TOTAL.labels(kind, "error").inc()
        raise
    else:
        RECONCILE_TOTAL.labels(kind, "ok").inc()
    finally:
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)

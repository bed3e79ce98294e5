"""Summaries of simulated calls: percentiles of what the callers experienced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ori_contracts.call_metrics import percentile
from ori_worker.sim.caller import CallReport


@dataclass(frozen=True)
class Summary:
    """Percentiles over a batch of calls."""

    calls: int
    failed: int
    refused: int
    pickup_ms: list[int]
    latency_ms: list[int]
    bargein_ms: list[int]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with p50/p95 of each measure."""
        return {
            "calls": self.calls,
            "failed": self.failed,
            "refused": self.refused,
            **{
                f"{name}_p{p}": percentile(values, p)
                for name, values in (
                    ("pickup_ms", self.pickup_ms),
                    ("latency_ms", self.latency_ms),
                    ("bargein_ms", self.bargein_ms),
                )
                for p in (50, 95)
            },
            "turns": len(self.latency_ms),
        }

    def table(self) -> str:
        """An aligned text table."""
        d = self.as_dict()
        rows = [
            ("calls (failed, refused)", f"{self.calls} ({self.failed}, {self.refused})"),
            ("turns measured", str(d["turns"])),
        ]
        for name in ("pickup_ms", "latency_ms", "bargein_ms"):
            rows.append((f"{name} p50 / p95", f"{d[name + '_p50']} / {d[name + '_p95']}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def summarise(reports: list[CallReport]) -> Summary:
    """Pool every call's measurements."""
    turns = [t for r in reports for t in r.turns]
    return Summary(
        calls=len(reports),
        failed=sum(r.error is not None for r in reports),
        refused=sum(r.refused is not None for r in reports),
        pickup_ms=[r.pickup_ms for r in reports if r.pickup_ms is not None],
        latency_ms=[t.latency_ms for t in turns if t.latency_ms is not None and not t.barge_in],
        bargein_ms=[t.bargein_ms for t in turns if t.bargein_ms is not None],
    )

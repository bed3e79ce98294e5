"""The worker's Prometheus metrics (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ori_contracts import CallResult

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

CALLS = Counter("ori_worker_calls_total", "Calls finished, by outcome.", ["outcome", "telephony"])
ACTIVE_CALLS = Gauge("ori_worker_active_calls", "Calls in progress on this worker.")
CALLS_REFUSED = Counter("ori_worker_calls_refused_total", "Calls refused, by reason.", ["reason"])
CALL_DURATION = Histogram(
    "ori_worker_call_duration_seconds",
    "Answered call length.",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 3600),
)
STAGE_LATENCY = Histogram(
    "ori_worker_turn_latency_seconds",
    "Per-turn latency by stage: total (caller stopped -> bot audio), stt, llm_ttfb, tts_ttfb.",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
CONFIG_FETCH = Histogram(
    "ori_worker_config_fetch_seconds", "Runtime config fetch time.", buckets=_LATENCY_BUCKETS
)
PROVIDER_ERRORS = Counter(
    "ori_worker_provider_errors_total", "Errors reported by providers.", ["processor", "fatal"]
)
TOOL_CALLS = Counter("ori_worker_tool_calls_total", "Tool calls.", ["type", "ok"])
TOOL_DURATION = Histogram(
    "ori_worker_tool_call_seconds", "Tool call time.", ["type"], buckets=_LATENCY_BUCKETS
)
MALFORMED_MEDIA = Counter(
    "ori_worker_malformed_media_total", "Carrier messages dropped as malformed.", ["telephony"]
)
CARRIER_ACTIONS = Counter(
    "ori_worker_carrier_actions_total",
    "Carrier call control (transfer, hang_up) by telephony and status: completed, failed, "
    "unsupported.",
    ["telephony", "action", "status"],
)
RESULT_DELIVERIES = Counter(
    "ori_worker_result_deliveries_total", "Result delivery attempts, by outcome.", ["outcome"]
)
RESULTS_PENDING = Gauge("ori_worker_results_pending", "Results waiting in the outbox.")


def observe_result(result: CallResult) -> None:
    """Count a finished call and its per-turn latencies."""
    CALLS.labels(str(result.outcome), str(result.telephony_provider)).inc()
    talk_ms = result.timings.talk_duration_ms
    if talk_ms is not None:
        CALL_DURATION.observe(talk_ms / 1000)
    for turn in result.latency.turns:
        STAGE_LATENCY.labels("total").observe(turn.total_ms / 1000)
        for stage, value in (
            ("stt", turn.stt_ms),
            ("llm_ttfb", turn.llm_ttfb_ms),
            ("tts_ttfb", turn.tts_ttfb_ms),
        ):
            if value is not None:
                STAGE_LATENCY.labels(stage).observe(value / 1000)

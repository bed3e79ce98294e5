"""With OTEL_ENABLED the worker exports a span per call and pipecat's per-turn spans under it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest

from ori_e2e.otlp_standin import OtlpStandIn
from ori_worker.sim.caller import Line, Script, SimulatedCall

from .conftest import BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration

API_KEY = "otlp-test-key"


@pytest.fixture
def collector() -> Iterator[OtlpStandIn]:
    standin = OtlpStandIn(API_KEY)
    yield standin
    standin.close()


async def test_calls_and_turns_are_traced(
    worker_factory: WorkerFactory, booking: BookingEndpoint, collector: OtlpStandIn
) -> None:
    worker = worker_factory(
        config=offline_bot(booking.url),
        extra_env={
            "OTEL_ENABLED": "true",
            "OTEL_ENDPOINT": collector.endpoint,
            "OTEL_API_KEY": API_KEY,
            "OTEL_SERVICE_NAME": "ori-worker-test",
        },
    )
    script = Script((Line("What time do you open"), Line("Goodbye")))
    report = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", script).run()
    assert report.hung_up_by == "bot"
    result = await asyncio.to_thread(worker.wait_result, 30)
    worker.signal(signal.SIGTERM)  # exiting flushes the span exporter
    assert await asyncio.to_thread(worker.wait_exit, 30) == 0

    assert collector.refused == 0
    (call,) = [s for s in collector.spans if s.name == "call"]
    assert call.attributes["call_id"] == result.call_id
    assert call.attributes["outcome"] == "completed"
    (conversation,) = [s for s in collector.spans if s.name == "conversation"]
    assert conversation.trace_id == call.trace_id and conversation.parent_span_id == call.span_id
    turns = [s for s in collector.spans if s.name == "turn"]
    assert len(turns) >= 2
    assert all(t.parent_span_id == conversation.span_id for t in turns)

"""A bot on an OpenAI-compatible model, through a local stand-in that speaks the real protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from ori_contracts import (
    DispositionSource,
    EndCallTool,
    LlmConfig,
    LlmProvider,
    ProviderKind,
    TranscriptRole,
    UsageUnit,
)
from ori_e2e.openai_standin import OpenAIStandIn
from ori_worker.sim.caller import Line, Script, SimulatedCall

from .conftest import BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration

ANALYSIS = {
    "summary": "The caller asked when the clinic opens, then said goodbye.",
    "sentiment": "neutral",
    "extracted": {"appointment_booked": False, "visit_reason": "other", "questions_asked": 3},
    "qc": {"polite": {"passed": True, "evidence": "Courteous throughout."}},
    "disposition": "not_interested",
}


@pytest.fixture
def openai() -> Iterator[OpenAIStandIn]:
    standin = OpenAIStandIn()
    standin.analysis = lambda _body: ANALYSIS
    yield standin
    standin.close()


async def test_a_streaming_model_answers_calls_tools_and_analyses_the_call(
    worker_factory: WorkerFactory, booking: BookingEndpoint, openai: OpenAIStandIn
) -> None:
    llm = LlmConfig(provider=LlmProvider.OPENAI, model="gpt-4.1-mini", base_url=openai.base_url)
    config = offline_bot(booking.url, llm=llm, tools=[EndCallTool()])
    worker = worker_factory(config=config, extra_env={"OPENAI_API_KEY": "sk-standin"})
    script = Script((Line("What time do you open"), Line("Goodbye")))
    report = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", script).run()
    assert report.hung_up_by == "bot" and all(t.latency_ms is not None for t in report.turns)

    result = await asyncio.to_thread(worker.wait_result, 30)
    bot = [t.text for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert bot[1:] == ["You said: what time do you open.", "Goodbye!"]
    assert [t.tool_name for t in result.transcript if t.role is TranscriptRole.TOOL] == ["end_call"]

    streamed = [r for r in openai.requests if r.get("stream")]
    assert streamed and streamed[0]["model"] == "gpt-4.1-mini"
    tools: list[dict[str, Any]] = streamed[0]["tools"]
    assert [t["function"]["name"] for t in tools] == ["end_call"]
    assert streamed[0]["messages"][0]["role"] == "system"

    assert result.analysis is not None
    assert result.analysis.summary == ANALYSIS["summary"]
    assert result.analysis.extracted["visit_reason"] == "other"
    assert result.analysis.extracted["questions_asked"] == []  # 3 is not a list: not taken
    polite = next(f for f in result.qc_findings if f.rule_id == "polite")
    assert polite.passed and polite.evidence == "Courteous throughout."
    assert (result.disposition, result.disposition_source) == (
        "not_interested",
        DispositionSource.CLASSIFIER,
    )
    tokens = {u.unit: u for u in result.usage if u.kind is ProviderKind.LLM}
    assert tokens[UsageUnit.INPUT_TOKENS].quantity >= 100
    assert (tokens[UsageUnit.OUTPUT_TOKENS].cost_usd or 0) > 0

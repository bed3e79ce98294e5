"""Gemini through pipecat's GoogleLLMService, pointed at a local stand-in of the Gemini API."""

from __future__ import annotations

from typing import Any

import pytest
from pipecat.adapters.schemas.function_schema import FunctionSchema
from pipecat.adapters.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import LLMContextFrame, LLMFullResponseEndFrame, LLMTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams
from pydantic import SecretStr

from ori_contracts import LlmConfig, LlmProvider
from ori_contracts.testing import make_runtime_config
from ori_e2e.standins import STANDIN_KEY
from ori_e2e.standins.gemini import GeminiStandIn
from ori_worker.providers.factory import ProviderKeys, ProviderOptionError, make_llm

from .standin_support import Collector, ServicePipeline

pytestmark = pytest.mark.integration

KEYS = ProviderKeys(google=SecretStr(STANDIN_KEY))
END_CALL = FunctionSchema(name="end_call", description="End the call.", properties={}, required=[])


def gemini(standin: GeminiStandIn, **options: Any) -> Any:
    llm = LlmConfig(
        provider=LlmProvider.GOOGLE, model="gemini-2.5-flash", base_url=standin.base_url
    )
    if options:
        llm = llm.model_copy(update={"options": options})
    return make_llm(make_runtime_config(llm=llm), KEYS)


async def ask(service: Any, said: str) -> Collector:
    context = LLMContext(
        messages=[
            {"role": "system", "content": "You are a receptionist."},
            {"role": "user", "content": said},
        ],
        tools=ToolsSchema(standard_tools=[END_CALL]),
    )
    async with ServicePipeline(service) as pipeline:
        await pipeline.send([LLMContextFrame(context)])
        await pipeline.wait_for(lambda sink: bool(sink.of(LLMFullResponseEndFrame)))
    return pipeline.sink


def text(sink: Collector) -> str:
    return "".join(f.text for f in sink.of(LLMTextFrame)).strip()


async def test_gemini_streams_text_and_calls_a_declared_function() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def end_call(params: FunctionCallParams) -> None:
        calls.append((params.function_name, dict(params.arguments)))
        await params.result_callback({"ok": True})

    with GeminiStandIn() as standin:
        answer = text(await ask(gemini(standin), "What time do you open"))
        service = gemini(standin)  # a service lives for one pipeline, as in a call
        service.register_function("end_call", end_call)
        goodbye = text(await ask(service, "Goodbye"))
        first = standin.requests[0]
    assert answer == "You said: What time do you open."
    assert goodbye == "Goodbye!" and calls == [("end_call", {})]
    assert (first["model"], first["method"]) == ("gemini-2.5-flash", "streamGenerateContent")
    assert first["systemInstruction"]["parts"][0]["text"] == "You are a receptionist."
    declared = first["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declared] == ["end_call"]


async def test_a_wrong_key_is_reported_as_the_service_s_error() -> None:
    with GeminiStandIn(api_key="another-key") as standin:
        service = gemini(standin)
        async with ServicePipeline(service) as pipeline:
            context = LLMContext(messages=[{"role": "user", "content": "Hello"}])
            await pipeline.send([LLMContextFrame(context)])
            await pipeline.wait_for(lambda _sink: bool(pipeline.errors))
    assert standin.refused == 1 and "API key not valid" in pipeline.errors[0]


def test_llm_options_are_checked() -> None:
    with pytest.raises(ProviderOptionError, match="llm google: unknown option"):
        gemini_llm = LlmConfig(provider=LlmProvider.GOOGLE, options={"region": "eu"})
        make_llm(make_runtime_config(llm=gemini_llm), KEYS)

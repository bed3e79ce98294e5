"""Whole calls through the worker on cloud providers, each a local stand-in of the real API.

The worker runs as a process with the bot's config pointing every stage at a stand-in; the
simulated caller phones it like a carrier. The caller's speech is recognised by the STT
stand-in (PocketSphinx), the LLM stand-in answers and calls ``end_call``, and the TTS
stand-in's speech (eSpeak NG) is what the caller hears; the call's result carries the
transcript and a usage row per provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ori_contracts import (
    CallResult,
    EndCallTool,
    LlmConfig,
    LlmProvider,
    ProviderKind,
    SttConfig,
    SttProvider,
    TranscriptRole,
    TtsConfig,
    TtsProvider,
    TurnConfig,
    TurnStrategy,
    UsageUnit,
)
from ori_e2e.openai_standin import OpenAIStandIn
from ori_e2e.standins import STANDIN_KEY
from ori_e2e.standins.cartesia import CartesiaStandIn
from ori_e2e.standins.deepgram import DeepgramStandIn
from ori_e2e.standins.elevenlabs import ElevenLabsStandIn
from ori_e2e.standins.gemini import GeminiStandIn
from ori_e2e.standins.openai_audio import OpenAIAudioStandIn
from ori_e2e.standins.sarvam import SarvamStandIn
from ori_worker.sim.caller import Line, Script, SimulatedCall

from .conftest import CALLER_LINES, BookingEndpoint, WorkerFactory, offline_bot
from .standin_support import ESPEAK, sphinx_transcriber

pytestmark = pytest.mark.integration

KEYS_ENV = {
    f"{name}_API_KEY": STANDIN_KEY
    for name in ("DEEPGRAM", "SONIOX", "OPENAI", "GOOGLE", "ELEVENLABS", "CARTESIA", "SARVAM")
}


@pytest.fixture
def deepgram() -> Iterator[DeepgramStandIn]:
    with DeepgramStandIn(sphinx_transcriber(CALLER_LINES)) as standin:
        yield standin


@pytest.fixture
def gemini() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as standin:
        yield standin


@pytest.fixture
def elevenlabs() -> Iterator[ElevenLabsStandIn]:
    with ElevenLabsStandIn(synthesizer=ESPEAK) as standin:
        yield standin


def usage(result: CallResult) -> dict[tuple[ProviderKind, str, UsageUnit], float]:
    return {(u.kind, u.provider, u.unit): u.quantity for u in result.usage}


async def test_a_call_on_deepgram_gemini_and_elevenlabs(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    deepgram: DeepgramStandIn,
    gemini: GeminiStandIn,
    elevenlabs: ElevenLabsStandIn,
) -> None:
    config = offline_bot(
        booking.url,
        stt=SttConfig(provider=SttProvider.DEEPGRAM, options={"base_url": deepgram.nova_url}),
        llm=LlmConfig(provider=LlmProvider.GOOGLE, base_url=gemini.base_url),
        tts=TtsConfig(provider=TtsProvider.ELEVENLABS, options={"url": elevenlabs.url}),
        tools=[EndCallTool()],
    )
    worker = worker_factory(config=config, extra_env=KEYS_ENV)
    script = Script((Line("What time do you open"), Line("Goodbye")))
    report = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", script).run()
    assert report.hung_up_by == "bot" and all(t.latency_ms is not None for t in report.turns)

    result = await asyncio.to_thread(worker.wait_result, 30)
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    bot = [t.text for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert said == ["what time do you open", "goodbye"]
    assert bot == [config.persona.greeting, "You said: what time do you open.", "Goodbye!"]
    assert [t.tool_name for t in result.transcript if t.role is TranscriptRole.TOOL] == ["end_call"]
    assert deepgram.transcripts == said and elevenlabs.spoken[0] == config.persona.greeting
    assert [r["model"] for r in gemini.requests] == ["gemini-2.5-flash"] * 2

    rows = usage(result)
    assert rows[(ProviderKind.STT, "deepgram", UsageUnit.AUDIO_SECONDS)] > 1.0
    assert rows[(ProviderKind.LLM, "google", UsageUnit.INPUT_TOKENS)] > 0
    assert rows[(ProviderKind.LLM, "google", UsageUnit.OUTPUT_TOKENS)] > 0
    spoken = sum(len(text) for text in elevenlabs.spoken)
    assert rows[(ProviderKind.TTS, "elevenlabs", UsageUnit.CHARACTERS)] == spoken
    assert all(u.cost_usd for u in result.usage if u.kind is not ProviderKind.TELEPHONY)


async def test_a_call_on_deepgram_flux_turns_an_openai_compatible_model_and_cartesia(
    worker_factory: WorkerFactory, booking: BookingEndpoint, deepgram: DeepgramStandIn
) -> None:
    openai, cartesia = OpenAIStandIn(), CartesiaStandIn(synthesizer=ESPEAK)
    try:
        config = offline_bot(
            booking.url,
            stt=SttConfig(provider=SttProvider.DEEPGRAM_FLUX, options={"url": deepgram.flux_url}),
            turn=TurnConfig(strategy=TurnStrategy.PROVIDER),
            llm=LlmConfig(provider=LlmProvider.OPENAI, base_url=openai.base_url),
            tts=TtsConfig(provider=TtsProvider.CARTESIA, options={"url": cartesia.url}),
            tools=[EndCallTool()],
        )
        worker = worker_factory(config=config, extra_env=KEYS_ENV)
        script = Script((Line("Tuesday at ten works for me"), Line("Goodbye")))
        report = await SimulatedCall(worker.ws_url, "appointment-demo", "exotel", script).run()
        result = await asyncio.to_thread(worker.wait_result, 30)
    finally:
        openai.close()
        cartesia.close()
    assert report.hung_up_by == "bot"
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    bot = [t.text for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert said == ["tuesday at ten works for me", "goodbye"]
    assert bot == [config.persona.greeting, "You said: tuesday at ten works for me.", "Goodbye!"]
    assert [r["path"] for r in deepgram.requests] == ["/v2/listen"]
    assert cartesia.spoken[0] == config.persona.greeting
    rows = usage(result)
    assert rows[(ProviderKind.STT, "deepgram_flux", UsageUnit.AUDIO_SECONDS)] > 1.0
    assert rows[(ProviderKind.TTS, "cartesia", UsageUnit.CHARACTERS)] == sum(
        len(text) for text in cartesia.spoken
    )


async def test_a_call_on_sarvam_turns_marked_by_the_pipeline_and_openai_speech(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    sarvam = SarvamStandIn(sphinx_transcriber(CALLER_LINES))
    llm, speech = OpenAIStandIn(), OpenAIAudioStandIn(synthesizer=ESPEAK)
    try:
        config = offline_bot(
            booking.url,
            stt=SttConfig(provider=SttProvider.SARVAM, options={"url": sarvam.stt_url}),
            llm=LlmConfig(provider=LlmProvider.OPENAI, base_url=llm.base_url),
            tts=TtsConfig(provider=TtsProvider.OPENAI, options={"base_url": speech.base_url}),
            tools=[EndCallTool()],
        )
        worker = worker_factory(config=config, extra_env=KEYS_ENV)
        script = Script((Line("I would like to book an appointment"), Line("Goodbye")))
        report = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", script).run()
        result = await asyncio.to_thread(worker.wait_result, 30)
    finally:
        for standin in (sarvam, llm, speech):
            standin.close()
    assert report.hung_up_by == "bot"
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    bot = [t.text for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert said == ["i would like to book an appointment", "goodbye"]
    assert bot[1:] == ["You said: i would like to book an appointment.", "Goodbye!"]
    assert sarvam.requests[0]["endpointing"] == "manual" and speech.spoken[-1] == "Goodbye!"
    first_turn = report.turns[0]
    assert first_turn.latency_ms is not None  # the bot's 24 kHz speech reached the caller
    rows = usage(result)
    assert rows[(ProviderKind.STT, "sarvam", UsageUnit.AUDIO_SECONDS)] > 1.0
    assert rows[(ProviderKind.TTS, "openai", UsageUnit.CHARACTERS)] == sum(
        len(text) for text in speech.spoken
    )

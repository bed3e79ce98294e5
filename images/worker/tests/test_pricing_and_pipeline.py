from __future__ import annotations

import pytest
from pipecat.turns.user_start import MinWordsUserTurnStartStrategy, VADUserTurnStartStrategy
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)

from ori_contracts import (
    LlmConfig,
    LlmProvider,
    ProviderKind,
    TelephonyProvider,
    TurnConfig,
    TurnStrategy,
    UsageUnit,
)
from ori_contracts.testing import make_runtime_config
from ori_worker.pipeline import render_prompt, turn_strategies
from ori_worker.pricing import usage_rows
from ori_worker.providers.factory import ProviderKeys, ProviderUnavailable, make_llm

pytestmark = pytest.mark.unit


def test_offline_usage_costs_nothing_and_every_stage_is_reported() -> None:
    rows = usage_rows(
        make_runtime_config(), stt_audio_s=12.5, llm_tokens=(0, 0, 0), tts_characters=300, call_s=40
    )
    kinds = {(r.kind, r.unit) for r in rows}
    assert (ProviderKind.STT, UsageUnit.AUDIO_SECONDS) in kinds
    assert (ProviderKind.TTS, UsageUnit.CHARACTERS) in kinds
    assert (ProviderKind.TELEPHONY, UsageUnit.CALL_SECONDS) in kinds
    assert all(r.cost_usd == 0.0 for r in rows)


def test_cloud_usage_is_priced_per_unit() -> None:
    cfg = make_runtime_config(
        llm=LlmConfig(provider=LlmProvider.OPENAI, model="gpt-4.1-mini"),
        tools=[],
        telephony_provider=TelephonyProvider.TWILIO,
    )
    rows = usage_rows(
        cfg, stt_audio_s=0, llm_tokens=(1_000_000, 0, 100_000), tts_characters=0, call_s=60
    )
    cost = {(r.kind, r.unit): r.cost_usd for r in rows}
    assert cost[(ProviderKind.LLM, UsageUnit.INPUT_TOKENS)] == pytest.approx(0.40)
    assert cost[(ProviderKind.LLM, UsageUnit.OUTPUT_TOKENS)] == pytest.approx(0.16)
    assert cost[(ProviderKind.TELEPHONY, UsageUnit.CALL_SECONDS)] == pytest.approx(0.004)


def test_prompt_placeholders_come_from_the_contact() -> None:
    cfg = make_runtime_config()
    assert render_prompt("Hi {contact.name}, {contact.custom_fields.last_visit} {nope}", cfg) == (
        "Hi Jordan Lee, 2025-09-12 {nope}"
    )


def test_turn_strategies_follow_the_config() -> None:
    vad_only = turn_strategies(
        make_runtime_config(turn=TurnConfig(strategy=TurnStrategy.VAD_ONLY, speech_timeout_s=0.4))
    )
    assert isinstance(vad_only.stop[0], SpeechTimeoutUserTurnStopStrategy)  # type: ignore[index]
    assert isinstance(vad_only.start[0], VADUserTurnStartStrategy)  # type: ignore[index]
    smart = turn_strategies(make_runtime_config(turn=TurnConfig(min_interruption_words=2)))
    assert isinstance(smart.stop[0], TurnAnalyzerUserTurnStopStrategy)  # type: ignore[index]
    assert isinstance(smart.start[0], MinWordsUserTurnStartStrategy)  # type: ignore[index]


def test_a_cloud_provider_without_its_key_is_refused_before_the_call() -> None:
    cfg = make_runtime_config(llm=LlmConfig(provider=LlmProvider.OPENAI), tools=[])
    with pytest.raises(ProviderUnavailable, match="OPENAI_API_KEY"):
        make_llm(cfg, ProviderKeys())

"""Provider enums and the offline sets."""

import pytest

from ori_contracts import (
    OFFLINE_LLM_PROVIDERS,
    OFFLINE_STT_PROVIDERS,
    OFFLINE_TELEPHONY_PROVIDERS,
    OFFLINE_TTS_PROVIDERS,
    LlmProvider,
    SttProvider,
    TelephonyProvider,
    TtsProvider,
)
from ori_contracts.testing import make_runtime_config

pytestmark = pytest.mark.unit


def test_offline_sets_name_the_keyless_providers() -> None:
    assert {SttProvider.POCKETSPHINX} == OFFLINE_STT_PROVIDERS
    assert {LlmProvider.SCRIPTED} == OFFLINE_LLM_PROVIDERS
    assert {TtsProvider.ESPEAK} == OFFLINE_TTS_PROVIDERS
    assert {TelephonyProvider.WEBSOCKET} == OFFLINE_TELEPHONY_PROVIDERS


def test_provider_values_are_their_lowercase_names() -> None:
    for enum in (SttProvider, LlmProvider, TtsProvider, TelephonyProvider):
        for member in enum:
            assert member.value == member.name.lower()


def test_demo_config_runs_offline() -> None:
    config = make_runtime_config()
    assert config.stt.provider in OFFLINE_STT_PROVIDERS
    assert config.llm.provider in OFFLINE_LLM_PROVIDERS
    assert config.tts.provider in OFFLINE_TTS_PROVIDERS
    assert config.telephony_provider in OFFLINE_TELEPHONY_PROVIDERS

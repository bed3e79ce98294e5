"""The factory checks a cloud provider's options and keys before a call starts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from ori_contracts import SttConfig, SttProvider, TtsConfig, TtsProvider
from ori_worker.providers.cloud_stt import BUILDERS as STT_BUILDERS
from ori_worker.providers.cloud_tts import BUILDERS as TTS_BUILDERS
from ori_worker.providers.factory import (
    ProviderKeys,
    ProviderOptionError,
    ProviderUnavailable,
    make_stt,
    make_tts,
)

pytestmark = pytest.mark.unit

KEY = SecretStr("k")
KEYS = ProviderKeys(**dict.fromkeys(ProviderKeys.__dataclass_fields__, KEY))


def stt(provider: SttProvider, **options: Any) -> object:
    return make_stt(SttConfig(provider=provider, options=options), "en-US", KEYS)


def tts(provider: TtsProvider, **fields: Any) -> object:
    return make_tts(TtsConfig(provider=provider, **fields), KEYS)


@pytest.mark.parametrize(
    ("provider", "name", "url"),
    [
        (SttProvider.DEEPGRAM, "base_url", "ws://127.0.0.1:9"),
        (SttProvider.DEEPGRAM_FLUX, "url", "ws://127.0.0.1:9/v2/listen"),
        (SttProvider.SONIOX, "url", "ws://127.0.0.1:9/transcribe-websocket"),
        (SttProvider.OPENAI, "base_url", "http://127.0.0.1:9/v1"),
        (SttProvider.SARVAM, "url", "ws://127.0.0.1:9/speech-to-text-realtime/ws"),
    ],
)
def test_every_cloud_stt_takes_its_endpoint_and_refuses_other_names(
    provider: SttProvider, name: str, url: str
) -> None:
    assert type(stt(provider, **{name: url})).__name__.endswith("STTService")
    wrong = "url" if name == "base_url" else "base_url"
    with pytest.raises(ProviderOptionError, match=f"stt {provider}: unknown option.*{wrong}"):
        stt(provider, **{wrong: url})


def test_endpoints_must_be_urls_of_the_right_kind() -> None:
    with pytest.raises(ProviderOptionError, match="option url must be a wss/ws URL"):
        stt(SttProvider.SONIOX, url="https://stt-rt.soniox.com/transcribe-websocket")
    with pytest.raises(ProviderOptionError, match="option base_url must be a https/http URL"):
        tts(TtsProvider.OPENAI, options={"base_url": "not a url"})
    with pytest.raises(ProviderOptionError, match="must be a wss/ws URL, not 42"):
        tts(TtsProvider.CARTESIA, options={"url": 42})


def test_numbers_are_checked_against_the_provider_s_range() -> None:
    with pytest.raises(ProviderOptionError, match="eot_threshold must be a number from 0.5 to 0.9"):
        stt(SttProvider.DEEPGRAM_FLUX, eot_threshold=1.5)
    with pytest.raises(ProviderOptionError, match="eot_timeout_ms must be a whole number"):
        stt(SttProvider.DEEPGRAM_FLUX, eot_timeout_ms=True)


def test_a_model_the_service_does_not_know_is_an_option_error() -> None:
    with pytest.raises(ProviderOptionError, match="stt sarvam: Unsupported model 'saaras:v1'"):
        make_stt(SttConfig(provider=SttProvider.SARVAM, model="saaras:v1"), "hi-IN", KEYS)
    with pytest.raises(ProviderOptionError, match="tts sarvam: Unsupported model 'bulbul:v0'"):
        tts(TtsProvider.SARVAM, model="bulbul:v0")


def test_a_missing_key_or_an_unimplemented_provider_is_unavailable() -> None:
    config = SttConfig(provider=SttProvider.SARVAM)
    with pytest.raises(ProviderUnavailable, match="SARVAM_API_KEY is not set"):
        make_stt(config, "en-US", ProviderKeys())
    with pytest.raises(ProviderUnavailable, match="STT provider google is not implemented"):
        stt(SttProvider.GOOGLE)
    with pytest.raises(ProviderUnavailable, match="TTS provider google is not implemented"):
        tts(TtsProvider.GOOGLE)


def test_every_cloud_provider_but_google_speech_has_a_builder() -> None:
    assert set(STT_BUILDERS) == set(SttProvider) - {SttProvider.POCKETSPHINX, SttProvider.GOOGLE}
    assert set(TTS_BUILDERS) == set(TtsProvider) - {TtsProvider.ESPEAK, TtsProvider.GOOGLE}


def test_speed_is_clamped_to_what_the_provider_accepts() -> None:
    eleven: Any = tts(TtsProvider.ELEVENLABS, speed=2.0)
    openai: Any = tts(TtsProvider.OPENAI, speed=2.0)
    assert eleven._settings.speed == 1.2 and openai._settings.speed == 2.0
    assert openai._init_sample_rate == 24000  # what OpenAI sends, whatever the carrier

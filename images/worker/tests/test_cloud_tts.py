"""Cloud text-to-speech adapters, built by the factory and run against local stand-ins.

Each test builds the provider's service as a call would (``make_tts`` with the bot's options
pointing at the stand-in), asks it to speak in a small pipecat pipeline, and checks that the
stand-in's speech (eSpeak NG) comes out as the service's audio, whole, at the rate it says,
with the words it spoke, and what the provider was asked for.
"""

from __future__ import annotations

from typing import Any

import pytest
from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame, TTSStoppedFrame, TTSTextFrame
from pydantic import SecretStr

from ori_contracts import TtsConfig, TtsProvider
from ori_e2e.standins import STANDIN_KEY
from ori_e2e.standins.cartesia import CartesiaStandIn
from ori_e2e.standins.elevenlabs import ElevenLabsStandIn
from ori_e2e.standins.openai_audio import OpenAIAudioStandIn
from ori_e2e.standins.sarvam import SarvamStandIn
from ori_worker.providers.factory import ProviderKeys, make_tts

from .standin_support import Collector, RecordingVoice, ServicePipeline

pytestmark = pytest.mark.integration

KEY = SecretStr(STANDIN_KEY)
KEYS = ProviderKeys(elevenlabs=KEY, cartesia=KEY, openai=KEY, sarvam=KEY)
TEXT = "Hello there. How are you today?"


async def speak(provider: TtsProvider, options: dict[str, Any], **fields: Any) -> Collector:
    """Have the factory's service for ``provider`` say :data:`TEXT`."""
    tts = make_tts(TtsConfig(provider=provider, options=options, **fields), KEYS)
    async with ServicePipeline(tts) as pipeline:
        await pipeline.send([TTSSpeakFrame(TEXT)])
        await pipeline.wait_for(lambda sink: bool(sink.of(TTSStoppedFrame)))
    return pipeline.sink


def heard(sink: Collector) -> tuple[bytes, set[int]]:
    """The audio the service put out, and the rates its frames say."""
    frames: list[TTSAudioRawFrame] = sink.of(TTSAudioRawFrame)
    return b"".join(f.audio for f in frames), {f.sample_rate for f in frames}


@pytest.fixture
def voice() -> RecordingVoice:
    return RecordingVoice()


def words(sink: Collector) -> str:
    return " ".join(f.text.strip() for f in sink.of(TTSTextFrame))


async def test_elevenlabs_streams_each_context_with_its_alignment(voice: RecordingVoice) -> None:
    with ElevenLabsStandIn(synthesizer=voice) as eleven:
        sink = await speak(TtsProvider.ELEVENLABS, {"url": eleven.url}, speed=1.1)
        query = eleven.requests[0]
    audio, rates = heard(sink)
    assert rates == {8000} and audio == voice.audio and " ".join(eleven.spoken) == TEXT
    assert words(sink) == TEXT
    assert (query["voice_id"], query["model_id"], query["output_format"]) == (
        "21m00Tcm4TlvDq8ikWAM",
        "eleven_flash_v2_5",
        "pcm_8000",
    )


async def test_cartesia_streams_chunks_and_word_timestamps_per_context(
    voice: RecordingVoice,
) -> None:
    with CartesiaStandIn(synthesizer=voice) as cartesia:
        sink = await speak(TtsProvider.CARTESIA, {"url": cartesia.url}, voice="voice-1")
        request = cartesia.requests[0]
    audio, rates = heard(sink)
    assert rates == {8000} and audio == voice.audio and " ".join(cartesia.spoken) == TEXT
    assert words(sink) == TEXT
    assert (request["model_id"], request["voice"]) == ("sonic-2", {"mode": "id", "id": "voice-1"})
    assert request["output_format"] == {
        "container": "raw",
        "encoding": "pcm_s16le",
        "sample_rate": 8000,
    }


async def test_openai_speech_arrives_as_24_khz_pcm(voice: RecordingVoice) -> None:
    with OpenAIAudioStandIn(synthesizer=voice) as openai:
        sink = await speak(TtsProvider.OPENAI, {"base_url": openai.base_url}, voice="nova")
        body = openai.requests[0]
    audio, rates = heard(sink)
    assert rates == {24000} and audio == voice.audio and " ".join(openai.spoken) == TEXT
    assert (body["model"], body["voice"], body["response_format"]) == (
        "gpt-4o-mini-tts",
        "nova",
        "pcm",
    )


async def test_sarvam_speaks_buffered_text_at_the_configured_rate(voice: RecordingVoice) -> None:
    with SarvamStandIn(synthesizer=voice) as sarvam:
        sink = await speak(TtsProvider.SARVAM, {"url": sarvam.tts_url}, sample_rate_hz=16000)
        config = sarvam.requests[0]
    audio, rates = heard(sink)
    assert rates == {16000} and audio == voice.audio and " ".join(sarvam.spoken) == TEXT
    assert (config["model"], config["speaker"], config["speech_sample_rate"]) == (
        "bulbul:v3",
        "shubh",
        "16000",
    )
    assert config["output_audio_codec"] == "linear16"

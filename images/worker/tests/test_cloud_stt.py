"""Cloud speech-to-text adapters, built by the factory and run against local stand-ins.

Each test builds the provider's service exactly as a call would (``make_stt`` with the bot's
options pointing at the stand-in), plays the simulated caller's speech through it in a small
pipecat pipeline, and checks the transcription that comes out and what the provider was
asked for. The stand-ins recognise with PocketSphinx, so the text is what the audio says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pipecat.frames.frames import (
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pydantic import SecretStr

from ori_contracts import SttConfig, SttProvider
from ori_e2e.standins import STANDIN_KEY, Transcriber
from ori_e2e.standins.deepgram import DeepgramStandIn
from ori_e2e.standins.openai_audio import OpenAIAudioStandIn
from ori_e2e.standins.sarvam import SarvamStandIn
from ori_e2e.standins.soniox import SonioxStandIn
from ori_worker.providers.factory import ProviderKeys, make_stt

from .conftest import CALLER_LINES
from .standin_support import Collector, ServicePipeline, caller_frames, sphinx_transcriber

pytestmark = pytest.mark.integration

KEY = SecretStr(STANDIN_KEY)
KEYS = ProviderKeys(deepgram=KEY, soniox=KEY, openai=KEY, sarvam=KEY)
LINE = "What time do you open"
HEARD = "what time do you open"


@pytest.fixture(scope="module")
def ears() -> Transcriber:
    return sphinx_transcriber(CALLER_LINES)


def finals(sink: Collector) -> list[str]:
    return [f.text for f in sink.of(TranscriptionFrame)]


async def say_with_vad(stt: object, text: str = LINE) -> Collector:
    """Play ``text`` through ``stt`` between the VAD's start and stop, as the pipeline does."""
    async with ServicePipeline(stt) as pipeline:  # type: ignore[arg-type]
        frames = [
            VADUserStartedSpeakingFrame(),
            *caller_frames(text),
            VADUserStoppedSpeakingFrame(),
        ]
        await pipeline.send(frames)
        await pipeline.wait_for(lambda sink: bool(finals(sink)))
    return pipeline.sink


async def test_deepgram_nova_streams_audio_and_returns_interim_and_final_results(
    ears: Transcriber,
) -> None:
    with DeepgramStandIn(ears) as deepgram:
        options: dict[str, Any] = {"base_url": deepgram.nova_url}
        cfg = SttConfig(provider=SttProvider.DEEPGRAM, phrases=list(CALLER_LINES), options=options)
        sink = await say_with_vad(make_stt(cfg, "en-US", KEYS))
        query = deepgram.requests[0]
    assert finals(sink) == [HEARD]
    assert [f.text for f in sink.of(InterimTranscriptionFrame)] == [HEARD]
    assert (query["path"], query["model"], query["language"]) == ("/v1/listen", "nova-3", "en-US")
    assert (query["encoding"], query["sample_rate"]) == ("linear16", "8000")
    assert query["keyterm"] == list(CALLER_LINES)


async def test_deepgram_flux_reports_the_turn_and_its_transcript(ears: Transcriber) -> None:
    with DeepgramStandIn(ears) as deepgram:
        options: dict[str, Any] = {"url": deepgram.flux_url, "eot_threshold": 0.8}
        options["eot_timeout_ms"] = 3000
        cfg = SttConfig(provider=SttProvider.DEEPGRAM_FLUX, options=options)
        stt = make_stt(cfg, "en-US", KEYS)
        turns: list[str] = []
        stt.add_event_handler("on_start_of_turn", lambda _s, _t: turns.append("start"))
        stt.add_event_handler("on_end_of_turn", lambda _s, text: turns.append(text))
        async with ServicePipeline(stt) as pipeline:
            await pipeline.send(caller_frames(LINE))
            await pipeline.wait_for(lambda sink: bool(finals(sink)))
        query = deepgram.requests[0]
    assert finals(pipeline.sink) == [HEARD] and turns == ["start", HEARD]
    assert (query["path"], query["model"]) == ("/v2/listen", "flux-general-en")
    assert (query["eot_threshold"], query["eot_timeout_ms"]) == ("0.8", "3000")


async def test_soniox_finalises_on_the_vad_stop_with_final_tokens(ears: Transcriber) -> None:
    with SonioxStandIn(ears) as soniox:
        cfg = SttConfig(provider=SttProvider.SONIOX, options={"url": soniox.url})
        sink = await say_with_vad(make_stt(cfg, "en-US", KEYS))
        config = soniox.requests[0]
    assert finals(sink) == [HEARD]
    assert HEARD in [f.text for f in sink.of(InterimTranscriptionFrame)]
    assert (config["model"], config["audio_format"], config["sample_rate"]) == (
        "stt-rt-v3",
        "pcm_s16le",
        8000,
    )
    assert config["language_hints"] == ["en"] and config["enable_endpoint_detection"] is False


async def test_openai_transcribes_each_vad_segment_as_an_uploaded_wav(ears: Transcriber) -> None:
    with OpenAIAudioStandIn(ears) as openai:
        cfg = SttConfig(provider=SttProvider.OPENAI, options={"base_url": openai.base_url})
        sink = await say_with_vad(make_stt(cfg, "en-US", KEYS))
        form = openai.requests[0]
    assert finals(sink) == [HEARD]
    assert (form["path"], form["model"], form["language"]) == (
        "/v1/audio/transcriptions",
        "gpt-4o-transcribe",
        "en",
    )


async def test_sarvam_realtime_transcribes_the_turn_the_pipeline_marks(ears: Transcriber) -> None:
    with SarvamStandIn(ears) as sarvam:
        cfg = SttConfig(provider=SttProvider.SARVAM, options={"url": sarvam.stt_url})
        sink = await say_with_vad(make_stt(cfg, "en-US", KEYS))
        query = sarvam.requests[0]
    assert finals(sink) == [HEARD]
    assert (query["model"], query["language_code"], query["endpointing"]) == (
        "saaras:v3-realtime",
        "en-IN",
        "manual",
    )
    assert (query["encoding"], query["sample_rate"]) == ("linear16", "8000")


@pytest.fixture
def deepgram(ears: Transcriber) -> Iterator[DeepgramStandIn]:
    with DeepgramStandIn(ears) as standin:
        yield standin


async def test_a_wrong_key_is_refused_at_the_handshake_and_reported(
    deepgram: DeepgramStandIn,
) -> None:
    cfg = SttConfig(provider=SttProvider.DEEPGRAM, options={"base_url": deepgram.nova_url})
    stt = make_stt(cfg, "en-US", ProviderKeys(deepgram=SecretStr("not-the-key")))
    async with ServicePipeline(stt) as pipeline:
        await pipeline.wait_for(lambda _sink: bool(pipeline.errors))
    assert deepgram.refused >= 1 and not deepgram.requests
    assert "401" in pipeline.errors[0]

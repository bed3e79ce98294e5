"""The provider stand-ins refuse what their providers refuse, the way the providers do.

The happy paths are exercised by the worker's adapter tests (``images/worker/tests/
test_cloud_*.py``); these check the answers to bad requests, with plain HTTP and WebSocket
clients, and the endpointer that finds speech in what the speech-to-text stand-ins hear.
"""

from __future__ import annotations

import json
import math
from array import array

import aiohttp
import pytest

from ori_e2e.standins import STANDIN_KEY, ExpectedLines, tone
from ori_e2e.standins.audio import Endpointer
from ori_e2e.standins.cartesia import CartesiaStandIn
from ori_e2e.standins.deepgram import DeepgramStandIn
from ori_e2e.standins.elevenlabs import ElevenLabsStandIn
from ori_e2e.standins.gemini import GeminiStandIn
from ori_e2e.standins.openai_audio import OpenAIAudioStandIn
from ori_e2e.standins.sarvam import SarvamStandIn
from ori_e2e.standins.soniox import SonioxStandIn

pytestmark = pytest.mark.integration

BEARER = {"Authorization": f"Bearer {STANDIN_KEY}"}


def noise_free_speech(seconds: float, rate: int = 8000) -> bytes:
    """A loud tone standing in for speech."""
    count = int(seconds * rate)
    return array("h", (int(8000 * math.sin(i / 5)) for i in range(count))).tobytes()


def test_the_endpointer_finds_one_utterance_and_its_timing() -> None:
    endpointer = Endpointer(8000, silence_ms=300)
    started, ended = endpointer.feed(bytes(8000) + noise_free_speech(1.0))
    assert started and not ended and endpointer.in_speech
    started, ended = endpointer.feed(bytes(8000))
    assert not started and len(ended) == 1
    # 300 ms of pre-roll before the speech was confirmed, 60 ms after it began at 0.5 s
    assert ended[0].start_s == pytest.approx(0.26)
    assert ended[0].end_s == pytest.approx(1.5)
    assert endpointer.flush() is None and endpointer.position_s == pytest.approx(2.0)


def test_expected_lines_hear_each_line_once_then_nothing() -> None:
    ears = ExpectedLines(["one", "two"])
    assert [ears(b"\0\0" * 800, 8000) for _ in range(3)] == ["one", "two", ""]
    assert ears.heard == [0.1, 0.1, 0.1]
    assert len(tone("hello", 8000)) == int(0.3 * 8000) * 2


async def test_deepgram_refuses_a_wrong_key_and_an_unsupported_encoding() -> None:
    with DeepgramStandIn() as deepgram:
        async with aiohttp.ClientSession() as http:
            url = f"{deepgram.http_url}/v1/listen?encoding=mulaw&sample_rate=8000"
            async with http.get(url, headers={"Authorization": "Token nope"}) as answer:
                assert answer.status == 401 and (await answer.json())["err_code"] == "INVALID_AUTH"
            headers = {"Authorization": f"Token {STANDIN_KEY}"}
            async with http.get(url, headers=headers) as answer:
                assert answer.status == 400 and "mulaw" in (await answer.json())["err_msg"]
            flux = f"{deepgram.http_url}/v2/listen?model=nova-3&sample_rate=8000"
            async with http.get(flux, headers=headers) as answer:
                assert (
                    answer.status == 400 and "not a Flux model" in (await answer.json())["err_msg"]
                )


async def test_soniox_answers_a_bad_configuration_with_an_error_and_closes() -> None:
    with SonioxStandIn() as soniox:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(soniox.url, headers=BEARER) as ws,
        ):
            await ws.send_str(json.dumps({"model": "stt-rt-v3", "audio_format": "mp3"}))
            answer = await ws.receive_json()
            assert answer["error_code"] == 400 and "mp3" in answer["error_message"]
            assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
    assert not soniox.requests


async def test_elevenlabs_refuses_formats_it_cannot_speak() -> None:
    with ElevenLabsStandIn() as eleven:
        async with aiohttp.ClientSession() as http:
            url = f"{eleven.http_url}/v1/text-to-speech/v1/multi-stream-input"
            headers = {"xi-api-key": STANDIN_KEY}
            async with http.get(
                f"{url}?model_id=m&output_format=mp3_44100", headers=headers
            ) as answer:
                assert answer.status == 400 and "mp3_44100" in (await answer.text())
            async with http.get(f"{url}?model_id=m", headers={"xi-api-key": "x"}) as answer:
                assert answer.status == 401


async def test_cartesia_answers_a_bad_request_in_band_with_an_error() -> None:
    with CartesiaStandIn() as cartesia:
        async with aiohttp.ClientSession() as http:
            headers = {"X-API-Key": STANDIN_KEY, "Cartesia-Version": "2026-03-01"}
            async with http.ws_connect(cartesia.url, headers=headers) as ws:
                await ws.send_json({"context_id": "c1", "transcript": "Hi", "model_id": "sonic-2"})
                error = await ws.receive_json()
            assert (error["type"], error["context_id"], error["done"]) == ("error", "c1", True)
            assert "voice" in error["error"]
            async with http.get(
                cartesia.http_url + "/tts/websocket", headers={"X-API-Key": STANDIN_KEY}
            ) as answer:
                assert answer.status == 400


async def test_openai_refuses_unknown_formats_and_undecodable_audio() -> None:
    with OpenAIAudioStandIn() as openai:
        async with aiohttp.ClientSession(headers=BEARER) as http:
            body = {"model": "tts-1", "input": "Hi", "voice": "alloy", "response_format": "mp3"}
            async with http.post(f"{openai.base_url}/audio/speech", json=body) as answer:
                error = (await answer.json())["error"]
                assert answer.status == 400 and error["param"] == "response_format"
            form = aiohttp.FormData({"model": "whisper-1"})
            form.add_field("file", b"not a wav", filename="a.wav")
            async with http.post(f"{openai.base_url}/audio/transcriptions", data=form) as answer:
                error = (await answer.json())["error"]
                assert answer.status == 400 and error["param"] == "file"


async def test_sarvam_closes_on_unsupported_settings_and_wants_a_config_first() -> None:
    headers = {"API-SUBSCRIPTION-KEY": STANDIN_KEY}
    with SarvamStandIn() as sarvam:
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.ws_connect(f"{sarvam.stt_url}?language_code=en-US") as ws:
                closing = await ws.receive()
                assert closing.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4000
            async with http.ws_connect(sarvam.tts_url) as ws:
                await ws.send_json({"type": "text", "data": {"text": "Hello"}})
                error = await ws.receive_json()
                assert error["type"] == "error" and "config" in error["data"]["message"]


async def test_gemini_refuses_a_request_without_contents() -> None:
    with GeminiStandIn() as gemini:
        async with aiohttp.ClientSession() as http:
            url = f"{gemini.base_url}v1beta/models/gemini-2.5-flash:streamGenerateContent"
            async with http.post(url, json={}, headers={"x-goog-api-key": STANDIN_KEY}) as answer:
                error = (await answer.json())["error"]
            assert answer.status == 400 and error["status"] == "INVALID_ARGUMENT"

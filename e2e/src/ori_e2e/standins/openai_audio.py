"""A local stand-in for OpenAI's audio endpoints: speech (TTS) and transcriptions (STT).

Both take ``Authorization: Bearer <key>`` (401 otherwise) and answer errors as OpenAI does,
``{"error": {"message", "type": "invalid_request_error", "param", "code"}}``.

* ``POST /v1/audio/speech`` with JSON ``{"model", "input", "voice", "response_format",
  "speed"?, "instructions"?}``: streams the speech, chunked, as ``pcm`` (raw 24 kHz 16-bit
  mono, what OpenAI sends) or ``wav``; other formats are refused.
* ``POST /v1/audio/transcriptions``, multipart form with ``file`` (a WAV), ``model``,
  ``language``?, ``prompt``?, ``response_format`` (``json``, ``text`` or ``verbose_json``):
  ``{"text", "usage"}`` (``verbose_json`` adds ``language``, ``duration`` and ``segments``).
"""

from __future__ import annotations

import io
import wave
from typing import Any

from aiohttp import web

from ori_e2e.standins.audio import pcm_from_wav
from ori_e2e.standins.base import StandIn

OPENAI_TTS_RATE_HZ = 24000
STREAM_CHUNK_BYTES = 4800
SPEECH_FORMATS = ("pcm", "wav")
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json")


def openai_error(status: int, message: str, param: str | None = None) -> web.Response:
    """An error answer shaped like OpenAI's."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    error = {"message": message, "type": kind, "param": param, "code": None}
    return web.json_response({"error": error}, status=status)


def _wav(pcm: bytes, rate_hz: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate_hz)
        out.writeframes(pcm)
    return buffer.getvalue()


def speech_problem(body: Any) -> tuple[str, str] | None:
    """``(message, param)`` when a speech request is invalid, else None."""
    if not isinstance(body, dict):
        return "The body must be a JSON object.", "body"
    for name in ("model", "input", "voice"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return f"Missing required parameter: '{name}'.", name
    if body.get("response_format", "mp3") not in SPEECH_FORMATS:
        fmt = body.get("response_format", "mp3")
        return f"response_format {fmt!r} is not spoken by this stand-in.", "response_format"
    speed = body.get("speed", 1.0)
    if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
        return "speed must be a number from 0.25 to 4.0.", "speed"
    return None


class OpenAIAudioStandIn(StandIn):
    """OpenAI's ``/v1/audio/speech`` and ``/v1/audio/transcriptions`` at ``base_url``.

    ``transcriber`` recognises uploaded audio (nothing is recognised without one);
    ``synthesizer`` speaks (a tone unless told otherwise).
    """

    def add_routes(self, app: web.Application) -> None:
        """``POST /v1/audio/speech`` and ``POST /v1/audio/transcriptions``."""
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)

    @property
    def base_url(self) -> str:
        """What the OpenAI client's ``base_url`` takes."""
        return f"{self.http_url}/v1"

    def _authorised(self, request: web.Request) -> bool:
        return self.key_matches(request.headers.get("Authorization"), "Bearer")

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return openai_error(401, "Incorrect API key provided.")
        try:
            body = await request.json()
        except ValueError:
            return openai_error(400, "The body is not valid JSON.", "body")
        problem = speech_problem(body)
        if problem:
            return openai_error(400, *problem)
        self.requests.append({"path": request.path, **body})
        pcm = await self.synthesize(body["input"], OPENAI_TTS_RATE_HZ)
        wav = body.get("response_format") == "wav"
        payload = _wav(pcm, OPENAI_TTS_RATE_HZ) if wav else pcm
        await self.pause()
        response = web.StreamResponse(
            headers={"Content-Type": "audio/wav" if wav else "application/octet-stream"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        for first in range(0, len(payload), STREAM_CHUNK_BYTES):
            await response.write(payload[first : first + STREAM_CHUNK_BYTES])
        await response.write_eof()
        return response

    async def _transcriptions(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return openai_error(401, "Incorrect API key provided.")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return openai_error(400, "Missing required parameter: 'file'.", "file")
        fields = {k: str(v) for k, v in form.items() if not isinstance(v, web.FileField)}
        if not fields.get("model"):
            return openai_error(400, "Missing required parameter: 'model'.", "model")
        response_format = fields.get("response_format", "json")
        if response_format not in TRANSCRIPTION_FORMATS:
            message = f"response_format {response_format!r} is not answered by this stand-in."
            return openai_error(400, message, "response_format")
        try:
            pcm, rate = pcm_from_wav(upload.file.read())
        except ValueError as exc:
            return openai_error(400, f"The audio file could not be decoded: {exc}", "file")
        self.requests.append({"path": request.path, **fields})
        text = await self.transcribe(pcm, rate)
        await self.pause()
        return self._transcription(text, response_format, len(pcm) / 2 / rate, fields)

    @staticmethod
    def _transcription(
        text: str, response_format: str, duration_s: float, fields: dict[str, str]
    ) -> web.Response:
        if response_format == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        seconds = round(duration_s, 3)
        if response_format == "verbose_json":
            segment = {"id": 0, "start": 0.0, "end": seconds, "text": text, "avg_logprob": -0.1}
            body: dict[str, Any] = {
                "task": "transcribe",
                "language": fields.get("language", "en"),
                "duration": seconds,
                "text": text,
                "segments": [segment],
                "usage": {"type": "duration", "seconds": max(1, round(duration_s))},
            }
            return web.json_response(body)
        heard, said = max(1, int(duration_s * 10)), len(text.split())
        usage = {"type": "tokens", "input_tokens": heard, "output_tokens": said}
        return web.json_response({"text": text, "usage": usage | {"total_tokens": heard + said}})

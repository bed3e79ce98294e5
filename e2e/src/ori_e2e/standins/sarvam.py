"""A local stand-in for Sarvam's streaming speech APIs (``wss://api.sarvam.ai``).

Both WebSockets take the ``API-SUBSCRIPTION-KEY`` header (a 403 at the handshake otherwise)
and JSON messages only.

Realtime speech-to-text, ``/speech-to-text-realtime/ws?model=saaras:v3-realtime&
language_code=en-IN&encoding=linear16&sample_rate=8000&endpointing=vad|manual&...``
(settings it cannot serve close the socket with code 4000, as Sarvam does): the server opens
with ``{"event": "session.begin", "request_id"}``; the client sends ``{"event":
"audio_input", "audio": <base64 PCM>}``. With ``endpointing=vad`` the server finds speech
itself (``vad.speech_start``, ``vad.speech_end``); with ``manual`` the client marks it
(``speech_start``, ``speech_end``; an utterance keeps a second of audio before its start).
Each utterance is answered with ``transcript.partial`` then ``transcript.final`` (``text``,
``language``, ``confidence``). ``ping`` gets ``pong``, ``config.update`` gets
``config.updated``, ``end`` finishes with ``session.end`` and closes.

Streaming text-to-speech, ``/text-to-speech/ws?model=bulbul:v3&send_completion_event=true``:
``{"type": "config", "data": {"target_language_code", "speaker", "speech_sample_rate",
"output_audio_codec": "linear16", "min_buffer_size", ...}}`` first, then ``{"type": "text",
"data": {"text"}}`` (spoken once ``min_buffer_size`` characters are waiting) and ``{"type":
"flush"}`` (speaks the rest, then ``{"type": "event", "data": {"event_type": "final"}}``).
Audio comes back as ``{"type": "audio", "data": {"request_id", "content_type", "audio"}}``;
problems as ``{"type": "error", "data": {"message", "code"}}``.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from ori_e2e.standins.audio import Endpointer
from ori_e2e.standins.base import Outbox, StandIn, json_error

STT_MODELS = frozenset({"saaras:v3-realtime", "saaras:v4"})
TTS_MODELS = frozenset({"bulbul:v3", "bulbul:v3-beta", "bulbul:v4-flash"})
STT_RATES = frozenset({"8000", "16000"})
TTS_RATES = frozenset({8000, 16000, 22050, 24000})
_INDIAN = "hi bn kn ml mr or pa ta te gu as ur ne kok ks sd sa sat mni brx mai doi en"
LANGUAGES = frozenset({"auto", *(f"{code}-IN" for code in _INDIAN.split(" "))})
REJECTED_SETTINGS = 4000
MANUAL_PRE_ROLL_S = 1.0
MAX_BUFFER_S = 60


def stt_problem(query: dict[str, str]) -> str | None:
    """Why Sarvam's realtime STT would refuse these connection settings, or None."""
    checks = (
        (query.get("model", "saaras:v3-realtime") in STT_MODELS, "model"),
        (query.get("encoding", "linear16") == "linear16", "encoding"),
        (query.get("sample_rate", "16000") in STT_RATES, "sample_rate"),
        (query.get("endpointing", "vad") in ("vad", "manual"), "endpointing"),
        (query.get("language_code", "auto") in LANGUAGES, "language_code"),
    )
    bad = [name for ok, name in checks if not ok]
    return f"unsupported {', '.join(bad)}" if bad else None


def tts_config_problem(data: Any) -> str | None:
    """Why Sarvam's streaming TTS would refuse this ``config``, or None."""
    if not isinstance(data, dict):
        return "config data must be an object"
    rate = str(data.get("speech_sample_rate", "24000"))
    if not rate.isdigit() or int(rate) not in TTS_RATES:
        return f"speech_sample_rate {rate!r} is not one of {sorted(TTS_RATES)}"
    if data.get("output_audio_codec", "linear16") != "linear16":
        return "this stand-in speaks only output_audio_codec 'linear16'"
    if not data.get("speaker") or not data.get("target_language_code"):
        return "speaker and target_language_code are required"
    return None


class SarvamStandIn(StandIn):
    """Sarvam's realtime STT (``stt_url``) and streaming TTS (``tts_url``) on one server."""

    def add_routes(self, app: web.Application) -> None:
        """``GET /speech-to-text-realtime/ws`` and ``GET /text-to-speech/ws``."""
        app.router.add_get("/speech-to-text-realtime/ws", self._stt)
        app.router.add_get("/text-to-speech/ws", self._tts)

    @property
    def stt_url(self) -> str:
        """What pipecat's ``SarvamRealtimeSTTService(base_url=...)`` takes."""
        return f"{self.ws_url}/speech-to-text-realtime/ws"

    @property
    def tts_url(self) -> str:
        """What pipecat's ``SarvamTTSService(url=...)`` takes."""
        return f"{self.ws_url}/text-to-speech/ws"

    def _refused(self, request: web.Request) -> web.Response | None:
        if self.key_matches(request.headers.get("API-SUBSCRIPTION-KEY")):
            return None
        error = {"message": "Invalid API subscription key", "code": "invalid_api_key_error"}
        return json_error(403, {"error": error})

    async def _stt(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        query = dict(request.query)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        problem = stt_problem(query)
        if problem:
            await ws.close(code=REJECTED_SETTINGS, message=problem.encode())
            return ws
        self.requests.append({"path": request.path, **query})
        await _SttSession(self, ws, query).run()
        return ws

    async def _tts(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.query.get("model", "bulbul:v3") not in TTS_MODELS:
            return json_error(400, {"error": {"message": "unsupported model", "code": 400}})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _TtsSession(self, ws, request.query.get("send_completion_event") == "true").run()
        return ws


class _SttSession:
    def __init__(self, stand: SarvamStandIn, ws: web.WebSocketResponse, query: dict[str, str]):
        self.stand, self.ws = stand, ws
        self.rate = int(query.get("sample_rate", "16000"))
        self.manual = query.get("endpointing") == "manual"
        self.language = query.get("language_code", "auto")
        self.request_id = str(uuid.uuid4())
        self.endpointer = Endpointer(self.rate, silence_ms=stand.silence_ms)
        self.buffer = bytearray()
        self.turn_start: int | None = None
        self.outbox = Outbox(ws)

    async def run(self) -> None:
        self.outbox.send({"event": "session.begin", "request_id": self.request_id})
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT and await self.handle(json.loads(msg.data)):
                    break
        finally:
            await self.outbox.drain()

    async def handle(self, message: dict[str, Any]) -> bool:
        """One client event; True when the session is over."""
        event = message.get("event")
        if event == "audio_input":
            await self.audio(base64.b64decode(message.get("audio", "")))
        elif event == "speech_start" and self.manual:
            keep = int(MANUAL_PRE_ROLL_S * self.rate) * 2
            self.turn_start = max(0, len(self.buffer) - keep)
        elif event == "speech_end" and self.manual:
            await self.end_manual_turn()
        elif event == "ping":
            self.outbox.send({"event": "pong"})
        elif event == "config.update":
            fields = {k: v for k, v in message.items() if k != "event"}
            self.outbox.send({"event": "config.updated", **fields})
        elif event == "end":
            await self.end_manual_turn()
            utterance = self.endpointer.flush()
            if utterance is not None and not self.manual:
                await self.final(utterance.pcm)
            self.outbox.send({"event": "session.end", "request_id": self.request_id})
            await self.outbox.drain()
            await self.ws.close()
            return True
        else:
            self.outbox.send({"event": "error", "message": f"unknown event {event!r}"})
        return False

    async def audio(self, pcm: bytes) -> None:
        if self.manual:
            self.buffer.extend(pcm)
            excess = len(self.buffer) - MAX_BUFFER_S * self.rate * 2
            if excess > 0 and self.turn_start is None:
                del self.buffer[:excess]
            return
        started, ended = self.endpointer.feed(pcm)
        if started:
            self.outbox.send({"event": "vad.speech_start", "request_id": self.request_id})
        for utterance in ended:
            self.outbox.send({"event": "vad.speech_end", "request_id": self.request_id})
            await self.final(utterance.pcm)

    async def end_manual_turn(self) -> None:
        if self.turn_start is None:
            return
        pcm, self.turn_start = bytes(self.buffer[self.turn_start :]), None
        self.buffer.clear()
        await self.final(pcm)

    async def final(self, pcm: bytes) -> None:
        text = await self.stand.transcribe(pcm, self.rate)
        language = "en-IN" if self.language == "auto" else self.language
        body = {"request_id": self.request_id, "text": text, "language": language}
        delay = self.stand.delay_s
        if text:
            self.outbox.send({"event": "transcript.partial", **body}, delay)
        self.outbox.send({"event": "transcript.final", **body, "confidence": 0.99}, delay)


class _TtsSession:
    def __init__(self, stand: SarvamStandIn, ws: web.WebSocketResponse, completion: bool):
        self.stand, self.ws, self.completion = stand, ws, completion
        self.config: dict[str, Any] | None = None
        self.text = ""
        self.outbox = Outbox(ws)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self.handle(json.loads(msg.data))
        finally:
            await self.outbox.drain()

    def error(self, message: str) -> None:
        self.outbox.send({"type": "error", "data": {"message": message, "code": 400}})

    async def handle(self, message: dict[str, Any]) -> None:
        kind, data = message.get("type"), message.get("data")
        if kind == "config":
            problem = tts_config_problem(data)
            if problem or not isinstance(data, dict):
                self.error(problem or "config data must be an object")
                return
            self.config = dict(data)
            self.stand.requests.append({"path": "/text-to-speech/ws", **self.config})
        elif kind in ("text", "flush") and self.config is None:
            self.error("send a config message before text")
        elif kind == "text":
            self.text += str((data or {}).get("text", ""))
            if len(self.text.strip()) >= int((self.config or {}).get("min_buffer_size") or 50):
                await self.speak()
        elif kind == "flush":
            await self.speak()
            if self.completion:
                final = {"type": "event", "data": {"event_type": "final"}}
                self.outbox.send(final, self.stand.delay_s)
        elif kind != "ping":
            self.error(f"unknown message type {kind!r}")

    async def speak(self) -> None:
        text, self.text = self.text.strip(), ""
        if not text or self.config is None:
            return
        rate = int(self.config.get("speech_sample_rate", 24000))
        pcm = await self.stand.synthesize(text, rate)
        request_id = str(uuid.uuid4())
        step = rate // 2 * 2
        for first in range(0, len(pcm), step):
            audio = base64.b64encode(pcm[first : first + step]).decode()
            data = {"request_id": request_id, "content_type": "audio/pcm", "audio": audio}
            self.outbox.send({"type": "audio", "data": data}, self.stand.delay_s)

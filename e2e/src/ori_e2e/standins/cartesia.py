"""A local stand-in for Cartesia's text-to-speech WebSocket (``wss://api.cartesia.ai/tts/websocket``).

Authenticated with ``X-API-Key`` (or ``api_key`` in the query) and a ``Cartesia-Version``
header (401 and 400 at the handshake otherwise). Each client message is a generation request
``{"transcript", "continue", "context_id", "model_id", "voice": {"mode": "id", "id"},
"output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate"},
"add_timestamps"}`` or a cancellation ``{"context_id", "cancel": true}``. For each transcript
the stand-in answers, under the request's ``context_id``, with ``{"type": "chunk", "data":
<base64 PCM>, "done": false, "status_code": 206, "step_time"}`` messages and, when
``add_timestamps`` is set, a ``{"type": "timestamps", "word_timestamps": {"words", "start",
"end"}}`` message (seconds from the context's start); a request with ``"continue": false`` ends
the context with ``{"type": "done", "done": true, "status_code": 200}``. A request it cannot
serve gets ``{"type": "error", "status_code": 400, "done": true, "error"}``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from ori_e2e.standins.audio import words_with_times
from ori_e2e.standins.base import Outbox, StandIn, json_error

CHUNK_S = 0.25


def request_problem(message: dict[str, Any]) -> str | None:
    """Why Cartesia would refuse this generation request, or None."""
    if not message.get("context_id"):
        return "context_id is required"
    if not message.get("model_id"):
        return "model_id is required"
    voice = message.get("voice") or {}
    if voice.get("mode") != "id" or not voice.get("id"):
        return "voice must be {'mode': 'id', 'id': <voice id>}"
    fmt = message.get("output_format") or {}
    if fmt.get("container") != "raw" or fmt.get("encoding") != "pcm_s16le":
        return "this stand-in speaks only output_format container 'raw', encoding 'pcm_s16le'"
    rate = fmt.get("sample_rate")
    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
        return "output_format.sample_rate must be an integer in 8000..48000"
    if not isinstance(message.get("transcript"), str):
        return "transcript must be a string"
    return None


@dataclass
class _Context:
    clock_s: float = 0.0
    cancelled: bool = False


class CartesiaStandIn(StandIn):
    """Cartesia's ``/tts/websocket`` at ``url``."""

    def add_routes(self, app: web.Application) -> None:
        """``GET /tts/websocket``."""
        app.router.add_get("/tts/websocket", self._stream)

    @property
    def url(self) -> str:
        """What pipecat's ``CartesiaTTSService(url=...)`` takes."""
        return f"{self.ws_url}/tts/websocket"

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("X-API-Key") or request.query.get("api_key")
        if not self.key_matches(key):
            return json_error(401, {"error": "Invalid API key", "status_code": 401})
        version = request.headers.get("Cartesia-Version") or request.query.get("cartesia_version")
        if not version:
            return json_error(400, {"error": "Cartesia-Version header is required"})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _Session(self, ws).run()
        return ws


class _Session:
    def __init__(self, stand: CartesiaStandIn, ws: web.WebSocketResponse) -> None:
        self.stand, self.ws = stand, ws
        self.contexts: dict[str, _Context] = {}
        self.outbox = Outbox(ws)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self.handle(json.loads(msg.data))
        finally:
            await self.outbox.drain()

    async def handle(self, message: dict[str, Any]) -> None:
        context_id = str(message.get("context_id") or "")
        if message.get("cancel"):
            self.contexts.setdefault(context_id, _Context()).cancelled = True
            return
        problem = request_problem(message)
        if problem:
            error = {"type": "error", "context_id": context_id, "status_code": 400, "done": True}
            self.outbox.send({**error, "error": problem})
            return
        self.stand.requests.append({k: v for k, v in message.items() if k != "transcript"})
        context = self.contexts.setdefault(context_id, _Context())
        if context.cancelled:
            return
        text = message["transcript"].strip()
        if text:
            await self.speak(context_id, context, text, message)
        if not message.get("continue", True):
            done = {"type": "done", "done": True, "status_code": 200, "context_id": context_id}
            self.outbox.send(done, self.stand.delay_s)
            self.contexts.pop(context_id, None)

    async def speak(
        self, context_id: str, context: _Context, text: str, message: dict[str, Any]
    ) -> None:
        rate: int = message["output_format"]["sample_rate"]
        pcm = await self.stand.synthesize(text, rate)
        if context.cancelled:
            return
        delay = self.stand.delay_s
        base = {"context_id": context_id, "done": False, "status_code": 206}
        step = int(CHUNK_S * rate) * 2
        for first in range(0, len(pcm), step):
            data = base64.b64encode(pcm[first : first + step]).decode()
            self.outbox.send({"type": "chunk", **base, "data": data, "step_time": 1.0}, delay)
        duration = len(pcm) / 2 / rate
        if message.get("add_timestamps"):
            words = words_with_times(text, context.clock_s, context.clock_s + duration)
            timestamps = {
                "words": [w for w, _, _ in words],
                "start": [s for _, s, _ in words],
                "end": [e for _, _, e in words],
            }
            self.outbox.send({"type": "timestamps", **base, "word_timestamps": timestamps}, delay)
        context.clock_s += duration

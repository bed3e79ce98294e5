"""A local stand-in for ElevenLabs' multi-context text-to-speech WebSocket.

``wss://api.elevenlabs.io/v1/text-to-speech/{voice_id}/multi-stream-input?model_id=...&
output_format=pcm_<rate>&auto_mode=...``, authenticated with the ``xi-api-key`` header (a 401
at the handshake otherwise); only ``pcm_*`` output formats are spoken here. Client messages
name their ``context_id``:

* ``{"text": " ", "voice_settings": ...}`` opens a context; ``{"text": "..."}`` adds text
  (spoken at once in ``auto_mode``, otherwise kept until a flush); ``{"text": ""}`` is a
  keepalive;
* ``{"flush": true}`` speaks what the context holds; ``{"close_context": true}`` speaks
  it, then answers ``{"isFinal": true, "contextId": ...}``; ``{"close_socket": true}``
  closes.

Audio goes back as ``{"audio": <base64 PCM>, "alignment": {"chars", "charStartTimesMs",
"charDurationsMs"}, "normalizedAlignment": ..., "contextId": ...}``, in chunks of at most
half a second whose character times start at the chunk (spaces included, and a closing
space after each piece of text).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ori_e2e.standins.base import Outbox, StandIn, json_error

CHUNK_S = 0.5
_PCM_FORMAT = re.compile(r"pcm_(\d{4,5})$")


@dataclass
class _Context:
    text: str = ""
    voice_settings: dict[str, Any] = field(default_factory=dict)


def alignment_chunks(text: str, pcm: bytes, rate_hz: int) -> list[tuple[bytes, dict[str, Any]]]:
    """Speech for ``text`` in chunks of at most :data:`CHUNK_S`, each with its alignment.

    Every character gets an equal share of the audio; a chunk's character times are in
    milliseconds from the chunk's start, as ElevenLabs sends them.
    """
    samples = len(pcm) // 2
    per_char = samples / len(text)  # samples
    step = max(1, int(CHUNK_S * rate_hz / per_char)) if per_char else len(text)
    chunks: list[tuple[bytes, dict[str, Any]]] = []
    for first in range(0, len(text), step):
        part = text[first : first + step]
        last = first + len(part) >= len(text)
        begin, end = int(first * per_char), samples if last else int((first + step) * per_char)
        char_ms = per_char * 1000 / rate_hz
        alignment = {
            "chars": list(part),
            "charStartTimesMs": [round(i * char_ms) for i in range(len(part))],
            "charDurationsMs": [round(char_ms)] * len(part),
        }
        chunks.append((pcm[begin * 2 : end * 2], alignment))
    return chunks


class ElevenLabsStandIn(StandIn):
    """ElevenLabs' ``multi-stream-input`` WebSocket at ``url``."""

    def add_routes(self, app: web.Application) -> None:
        """``GET /v1/text-to-speech/{voice_id}/multi-stream-input``."""
        app.router.add_get("/v1/text-to-speech/{voice_id}/multi-stream-input", self._stream)

    @property
    def url(self) -> str:
        """What pipecat's ``ElevenLabsTTSService(url=...)`` takes."""
        return self.ws_url

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if not self.key_matches(request.headers.get("xi-api-key")):
            detail = {"status": "invalid_api_key", "message": "Invalid API key"}
            return json_error(401, {"detail": detail})
        output = request.query.get("output_format", "mp3_44100_128")
        rate = _PCM_FORMAT.match(output)
        if rate is None or not request.query.get("model_id"):
            message = f"output_format {output!r} is not supported by this stand-in (pcm_<rate>)"
            if not request.query.get("model_id"):
                message = "model_id is required"
            return json_error(400, {"detail": {"status": "invalid_request", "message": message}})
        self.requests.append({"voice_id": request.match_info["voice_id"], **request.query})
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        await _Session(self, ws, int(rate.group(1)), request.query.get("auto_mode") == "true").run()
        return ws


class _Session:
    def __init__(
        self, stand: ElevenLabsStandIn, ws: web.WebSocketResponse, rate: int, auto: bool
    ) -> None:
        self.stand, self.ws, self.rate, self.auto = stand, ws, rate, auto
        self.contexts: dict[str, _Context] = {}
        self.outbox = Outbox(ws)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if await self.handle(json.loads(msg.data)):
                    break
        finally:
            await self.outbox.drain()

    async def handle(self, message: dict[str, Any]) -> bool:
        """One client message; True when the socket is to close."""
        if message.get("close_socket"):
            for context_id in list(self.contexts):
                await self.speak(context_id)
            await self.outbox.drain()
            await self.ws.close()
            return True
        context_id = str(message.get("context_id") or "default")
        context = self.contexts.setdefault(context_id, _Context())
        if "voice_settings" in message:
            context.voice_settings = message["voice_settings"]
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            context.text += text
            if self.auto:
                await self.speak(context_id)
        if message.get("flush"):
            await self.speak(context_id)
        if message.get("close_context"):
            await self.speak(context_id)
            self.outbox.send({"isFinal": True, "contextId": context_id}, self.stand.delay_s)
            self.contexts.pop(context_id, None)
        return False

    async def speak(self, context_id: str) -> None:
        context = self.contexts.get(context_id)
        if context is None or not context.text.strip():
            return
        # Alignment keeps the text's spaces, and ends with one, as ElevenLabs' does: a word
        # counts as said when the space after it arrives.
        text, context.text = context.text.rstrip() + " ", ""
        pcm = await self.stand.synthesize(text.strip(), self.rate)
        for audio, alignment in alignment_chunks(text, pcm, self.rate):
            message = {
                "audio": base64.b64encode(audio).decode(),
                "alignment": alignment,
                "normalizedAlignment": alignment,
                "contextId": context_id,
            }
            self.outbox.send(message, self.stand.delay_s)

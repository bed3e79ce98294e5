"""A local stand-in for Soniox real-time speech-to-text (``wss://stt-rt.soniox.com/transcribe-websocket``).

The client opens the WebSocket (``Authorization: Bearer <key>``, or ``api_key`` in the
configuration) and sends a JSON configuration first (``model``, ``audio_format``
``pcm_s16le``, ``sample_rate``, ``num_channels`` 1, ``enable_endpoint_detection``, ...), then
binary audio. Every answer is ``{"tokens": [...], "final_audio_proc_ms", "total_audio_proc_ms"}``
where a token is ``{"text", "start_ms", "end_ms", "confidence", "is_final"}``:

* an utterance the endpointer ends is first sent as non-final tokens, then as final ones
  (closed by ``<end>`` when ``enable_endpoint_detection`` is on);
* ``{"type": "finalize"}`` finalises at once and ends with the ``<fin>`` token;
* ``{"type": "keepalive"}`` is counted; an empty message ends the audio: what is left is
  finalised, then ``{"tokens": [], "finished": true}`` and the socket closes;
* a bad configuration or key is answered with ``error_code``/``error_message`` and a close.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from ori_e2e.standins.audio import Endpointer, Utterance, words_with_times
from ori_e2e.standins.base import Outbox, StandIn

END_TOKEN = "<end>"  # noqa: S105 - a transcript token, not a secret
FINALIZED_TOKEN = "<fin>"  # noqa: S105 - a transcript token, not a secret


def config_problem(config: dict[str, Any]) -> str | None:
    """Why Soniox would refuse this configuration, or None."""
    if not isinstance(config.get("model"), str) or not config["model"]:
        return "Missing model."
    if config.get("audio_format", "auto") != "pcm_s16le":
        return f"audio_format {config.get('audio_format')!r} is not supported by this stand-in"
    rate = config.get("sample_rate")
    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
        return "sample_rate must be an integer in 8000..48000 for pcm_s16le."
    if config.get("num_channels") != 1:
        return "num_channels must be 1 for this stand-in."
    return None


class SonioxStandIn(StandIn):
    """Soniox's real-time WebSocket at ``url``."""

    keepalives = 0
    """``keepalive`` messages received."""

    def add_routes(self, app: web.Application) -> None:
        """``GET /transcribe-websocket``."""
        app.router.add_get("/transcribe-websocket", self._transcribe)

    @property
    def url(self) -> str:
        """What pipecat's ``SonioxSTTService(url=...)`` takes."""
        return f"{self.ws_url}/transcribe-websocket"

    async def _transcribe(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        first = await ws.receive()
        try:
            config = json.loads(first.data) if first.type == WSMsgType.TEXT else None
        except json.JSONDecodeError:
            config = None
        if not isinstance(config, dict):
            await _refuse(ws, 400, "The first message must be the JSON configuration.")
            return ws
        header = request.headers.get("Authorization")
        bearer = header if header is not None else f"Bearer {config.get('api_key')}"
        if not self.key_matches(bearer, "Bearer"):
            await _refuse(ws, 401, "Invalid API key.")
            return ws
        problem = config_problem(config)
        if problem:
            await _refuse(ws, 400, problem)
            return ws
        self.requests.append({k: v for k, v in config.items() if k != "api_key"})
        await _Session(self, ws, config).run()
        return ws


async def _refuse(ws: web.WebSocketResponse, code: int, message: str) -> None:
    await ws.send_json({"tokens": [], "error_code": code, "error_message": message})
    await ws.close()


class _Session:
    def __init__(self, stand: SonioxStandIn, ws: web.WebSocketResponse, config: dict[str, Any]):
        self.stand, self.ws = stand, ws
        self.rate: int = config["sample_rate"]
        self.endpoints = bool(config.get("enable_endpoint_detection"))
        self.endpointer = Endpointer(self.rate, silence_ms=stand.silence_ms)
        self.outbox = Outbox(ws)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    await self.audio(msg.data)
                elif msg.type == WSMsgType.TEXT and await self.control(msg.data):
                    break
        finally:
            await self.outbox.drain()

    async def audio(self, pcm: bytes) -> None:
        if not pcm:
            await self.control("")
            return
        _, ended = self.endpointer.feed(pcm)
        for utterance in ended:
            await self.tokens(utterance, END_TOKEN if self.endpoints else None)

    async def control(self, text: str) -> bool:
        """Handle a text message; True when the stream is over."""
        if text == "":
            utterance = self.endpointer.flush()
            if utterance is not None:
                await self.tokens(utterance, FINALIZED_TOKEN)
            self.outbox.send(
                {"tokens": [], "finished": True, **self.progress()}, self.stand.delay_s
            )
            await self.outbox.drain()
            await self.ws.close()
            return True
        kind = json.loads(text).get("type")
        if kind == "keepalive":
            self.stand.keepalives += 1
        elif kind == "finalize":
            await self.tokens(self.endpointer.flush(), FINALIZED_TOKEN)
        return False

    async def tokens(self, utterance: Utterance | None, closing: str | None) -> None:
        text = await self.stand.transcribe(utterance.pcm, self.rate) if utterance else ""
        delay = self.stand.delay_s
        words = words_with_times(text, utterance.start_s, utterance.end_s) if utterance else []
        if words:
            self.outbox.send({"tokens": self.word_tokens(words, False), **self.progress()}, delay)
        final = self.word_tokens(words, True)
        if closing is not None:
            end_ms = int(utterance.end_s * 1000) if utterance else 0
            marker = {"text": closing, "start_ms": end_ms, "end_ms": end_ms, "confidence": 1.0}
            final.append({**marker, "is_final": True})
        if final:
            self.outbox.send({"tokens": final, **self.progress()}, delay)

    @staticmethod
    def word_tokens(words: list[tuple[str, float, float]], final: bool) -> list[dict[str, Any]]:
        return [
            {
                "text": word if i == 0 else f" {word}",
                "start_ms": int(start * 1000),
                "end_ms": int(end * 1000),
                "confidence": 0.99,
                "is_final": final,
            }
            for i, (word, start, end) in enumerate(words)
        ]

    def progress(self) -> dict[str, int]:
        done = int(self.endpointer.position_s * 1000)
        return {"final_audio_proc_ms": done, "total_audio_proc_ms": done}

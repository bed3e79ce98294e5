"""A local stand-in for Deepgram live speech-to-text: Nova (``/v1/listen``), Flux (``/v2/listen``).

Both are WebSockets authenticated with ``Authorization: Token <key>`` (401 otherwise) that take
binary 16-bit PCM (``encoding=linear16``, ``sample_rate`` from the query; anything else is a
400 at the handshake, as Deepgram answers a bad query).

Nova (``wss://api.deepgram.com/v1/listen``): when the endpointer hears an utterance end, it
sends a ``Results`` message with ``is_final: false`` (when ``interim_results`` is on), then one
with ``is_final: true, speech_final: true`` (and ``UtteranceEnd`` when ``utterance_end_ms`` is
set). ``{"type": "Finalize"}`` ends the utterance under way at once (``from_finalize: true``,
an empty transcript when nothing was said), ``KeepAlive`` is counted, and ``CloseStream``
finishes, sends ``Metadata`` and closes.

Flux (``wss://api.deepgram.com/v2/listen``): first ``Connected``, then ``TurnInfo`` events:
``StartOfTurn`` when speech starts, ``Update`` with the transcript, ``EagerEndOfTurn`` when
``eager_eot_threshold`` is set, and ``EndOfTurn`` (``trigger: model``) after the turn's
silence; ``Configure`` is answered with ``ConfigureSuccess``, ``ForceEndTurn`` ends the turn
(``trigger: manual``) and ``CloseStream`` closes. Every message carries a ``sequence_id``.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from ori_e2e.standins.audio import Endpointer, Utterance, words_with_times
from ori_e2e.standins.base import Outbox, StandIn, json_error

MODEL_UUID = "00000000-0000-4000-8000-00000000d6a1"


def query_of(request: web.Request) -> dict[str, Any]:
    """The query string, with repeated keys (``keyterm``) as lists."""
    out: dict[str, Any] = {}
    for key, value in request.query.items():
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def _audio_problem(query: dict[str, Any]) -> str | None:
    if query.get("encoding", "linear16") != "linear16":
        return f"encoding {query.get('encoding')!r} is not supported by this stand-in (linear16)"
    rate = str(query.get("sample_rate", ""))
    if not rate.isdigit() or not 8000 <= int(rate) <= 48000:
        return f"sample_rate must be an integer in 8000..48000, not {rate!r}"
    if str(query.get("channels", "1")) != "1":
        return "only mono audio (channels=1) is supported by this stand-in"
    return None


class DeepgramStandIn(StandIn):
    """Deepgram Nova and Flux on one loopback server (``nova_url``, ``flux_url``)."""

    keepalives = 0
    """``KeepAlive`` messages received (Nova)."""

    def add_routes(self, app: web.Application) -> None:
        """``GET /v1/listen`` (Nova) and ``GET /v2/listen`` (Flux), both WebSockets."""
        app.router.add_get("/v1/listen", self._listen_v1)
        app.router.add_get("/v2/listen", self._listen_v2)

    @property
    def nova_url(self) -> str:
        """What pipecat's ``DeepgramSTTService(base_url=...)`` takes."""
        return self.ws_url

    @property
    def flux_url(self) -> str:
        """What pipecat's ``DeepgramFluxSTTService(url=...)`` takes."""
        return f"{self.ws_url}/v2/listen"

    async def _open(self, request: web.Request, flux: bool) -> tuple[web.StreamResponse, str]:
        request_id = str(uuid.uuid4())
        if not self.key_matches(request.headers.get("Authorization"), "Token"):
            body = {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}
            return json_error(401, {**body, "request_id": request_id}), request_id
        query = query_of(request)
        problem = _audio_problem(query)
        if flux and not str(query.get("model", "")).startswith("flux-"):
            problem = f"model {query.get('model')!r} is not a Flux model"
        if problem:
            body = {"err_code": "Bad Request", "err_msg": problem, "request_id": request_id}
            return json_error(400, body), request_id
        self.requests.append({"path": request.path, **query})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        return ws, request_id

    async def _listen_v1(self, request: web.Request) -> web.StreamResponse:
        ws, request_id = await self._open(request, flux=False)
        if isinstance(ws, web.WebSocketResponse):
            await _NovaSession(self, ws, query_of(request), request_id).run()
        return ws

    async def _listen_v2(self, request: web.Request) -> web.StreamResponse:
        ws, request_id = await self._open(request, flux=True)
        if isinstance(ws, web.WebSocketResponse):
            await _FluxSession(self, ws, query_of(request), request_id).run()
        return ws


class _NovaSession:
    def __init__(
        self, stand: DeepgramStandIn, ws: web.WebSocketResponse, query: dict[str, Any], rid: str
    ) -> None:
        self.stand, self.ws, self.query, self.request_id = stand, ws, query, rid
        self.rate = int(query["sample_rate"])
        self.endpointer = Endpointer(self.rate, silence_ms=stand.silence_ms)
        self.outbox = Outbox(ws)
        self.audio = hashlib.sha256()

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    self.audio.update(msg.data)
                    started, ended = self.endpointer.feed(msg.data)
                    if started and self.query.get("vad_events") == "true":
                        at = self.endpointer.position_s
                        self.outbox.send({"type": "SpeechStarted", "channel": [0], "timestamp": at})
                    for utterance in ended:
                        await self.result(utterance, speech_final=True)
                elif msg.type == WSMsgType.TEXT and await self.control(msg.json()):
                    break
        finally:
            await self.outbox.drain()

    async def control(self, message: dict[str, Any]) -> bool:
        """Handle a control message; True when the stream is over."""
        kind = message.get("type")
        if kind == "KeepAlive":
            self.stand.keepalives += 1
        elif kind == "Finalize":
            await self.result(self.endpointer.flush(), from_finalize=True)
        elif kind == "CloseStream":
            utterance = self.endpointer.flush()
            if utterance is not None:
                await self.result(utterance, speech_final=True)
            self.outbox.send(self.metadata(), self.stand.delay_s)
            await self.outbox.drain()
            await self.ws.close()
            return True
        return False

    async def result(
        self,
        utterance: Utterance | None,
        *,
        speech_final: bool = False,
        from_finalize: bool = False,
    ) -> None:
        text = await self.stand.transcribe(utterance.pcm, self.rate) if utterance else ""
        start = utterance.start_s if utterance else self.endpointer.position_s
        end = utterance.end_s if utterance else start
        delay = self.stand.delay_s
        if text and self.query.get("interim_results", "true") == "true":
            self.outbox.send(self.results(text, start, end, is_final=False), delay)
        final = self.results(text, start, end, is_final=True, speech_final=speech_final)
        self.outbox.send({**final, "from_finalize": from_finalize}, delay)
        if text and speech_final and self.query.get("utterance_end_ms"):
            self.outbox.send(
                {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": end}, delay
            )

    def results(
        self, text: str, start: float, end: float, *, is_final: bool, speech_final: bool = False
    ) -> dict[str, Any]:
        words = [
            {"word": w.strip(".,?!").lower(), "punctuated_word": w, "start": s, "end": e}
            | {"confidence": 0.99}
            for w, s, e in words_with_times(text, start, end)
        ]
        alternative = {"transcript": text, "confidence": 0.99 if text else 0.0, "words": words}
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(end - start, 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "channel": {"alternatives": [alternative]},
            "metadata": {
                "request_id": self.request_id,
                "model_info": {"name": self.query.get("model", "nova-3"), "version": "standin"}
                | {"arch": "nova"},
                "model_uuid": MODEL_UUID,
            },
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": self.audio.hexdigest(),
            "created": datetime.now(UTC).isoformat(),
            "duration": self.endpointer.position_s,
            "channels": 1,
        }


class _FluxSession:
    def __init__(
        self, stand: DeepgramStandIn, ws: web.WebSocketResponse, query: dict[str, Any], rid: str
    ) -> None:
        self.stand, self.ws, self.query, self.request_id = stand, ws, query, rid
        self.rate = int(query["sample_rate"])
        timeout = str(query.get("eot_timeout_ms", ""))
        silence = min(stand.silence_ms, int(timeout)) if timeout.isdigit() else stand.silence_ms
        self.endpointer = Endpointer(self.rate, silence_ms=silence)
        self.outbox = Outbox(ws)
        self.sequence = 0
        self.turn_index = 0

    def send(self, message: dict[str, Any], delay_s: float = 0.0) -> None:
        self.outbox.send({**message, "sequence_id": self.sequence}, delay_s)
        self.sequence += 1

    async def run(self) -> None:
        self.send({"type": "Connected", "request_id": self.request_id})
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    started, ended = self.endpointer.feed(msg.data)
                    if started:
                        self.send(self.turn_info("StartOfTurn", "", self.endpointer.position_s))
                    for utterance in ended:
                        await self.end_turn(utterance, "model")
                elif msg.type == WSMsgType.TEXT and await self.control(msg.json()):
                    break
        finally:
            await self.outbox.drain()

    async def control(self, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        if kind == "Configure":
            reply = {k: v for k, v in message.items() if k != "type"}
            self.send({"type": "ConfigureSuccess", "request_id": self.request_id, **reply})
        elif kind == "ForceEndTurn":
            utterance = self.endpointer.flush()
            if utterance is not None:
                await self.end_turn(utterance, "manual")
        elif kind == "CloseStream":
            utterance = self.endpointer.flush()
            if utterance is not None:
                await self.end_turn(utterance, "timeout")
            await self.outbox.drain()
            await self.ws.close()
            return True
        return False

    async def end_turn(self, utterance: Utterance, trigger: str) -> None:
        text = await self.stand.transcribe(utterance.pcm, self.rate)
        delay, start, end = self.stand.delay_s, utterance.start_s, utterance.end_s
        self.send(self.turn_info("Update", text, end, start=start), delay)
        if self.query.get("eager_eot_threshold"):
            self.send(self.turn_info("EagerEndOfTurn", text, end, start=start), delay)
        done = self.turn_info("EndOfTurn", text, end, start=start, confidence=0.9)
        self.send({**done, "trigger": trigger}, delay)
        self.turn_index += 1

    def turn_info(
        self, event: str, text: str, end: float, *, start: float = 0.0, confidence: float = 0.0
    ) -> dict[str, Any]:
        words = [
            {"word": w, "confidence": 0.99, "start": s, "end": e}
            for w, s, e in words_with_times(text, start, end)
        ]
        return {
            "type": "TurnInfo",
            "request_id": self.request_id,
            "event": event,
            "turn_index": self.turn_index,
            "audio_window_start": round(start, 3),
            "audio_window_end": round(end, 3),
            "transcript": text,
            "words": words,
            "end_of_turn_confidence": confidence,
        }

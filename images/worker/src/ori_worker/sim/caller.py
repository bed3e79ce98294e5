"""One simulated call, in real time: a carrier's 20 ms clock, a playout buffer and a script.

Every 20 ms the caller sends one frame (a scripted line's audio, or silence) and plays one
frame of what the worker sent, as a phone would: audio queues up, a ``clear`` drops what is
queued. Bot speech is detected by level in what is played. Times are measured on the
caller's side of the line, so they include the network, the worker and the carrier pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ori_worker.sim.audio import FRAME_BYTES, Utterance, louder_than, speak
from ori_worker.sim.carrier import PROTOCOLS, ROUTES, Carrier

TICK_S = 0.02
VOICED_DBFS = -60.0
_GAP_S = 0.3
_STOPPED_S = 0.5  # longer than the pause between two of the bot's sentences


@dataclass(frozen=True)
class Line:
    """One thing the caller says: after the bot finishes, or over the bot after a delay."""

    text: str
    barge_in_after_ms: int | None = None


@dataclass(frozen=True)
class Script:
    """What the caller says, and how patient it is."""

    lines: tuple[Line, ...]
    voice: str = "en-us"
    bot_done_silence_ms: int = 900
    response_timeout_s: float = 20.0
    hang_up_after_s: float = 4.0
    max_call_s: float = 180.0


@dataclass
class TurnReport:
    """What the caller experienced for one line."""

    text: str
    barge_in: bool = False
    spoke_at_s: float | None = None
    latency_ms: int | None = None
    """End of the caller's speech to the first bot audio heard after it."""
    bargein_ms: int | None = None
    """Caller speech onset to the bot's audio stopping (barge-in lines)."""
    clear_ms: int | None = None
    """Caller speech onset to the carrier ``clear`` message (barge-in lines)."""


@dataclass
class CallReport:
    """The whole call from the caller's side."""

    call_id: str
    protocol: str
    refused: str | None = None
    pickup_ms: int | None = None
    turns: list[TurnReport] = field(default_factory=list)
    hung_up_by: str | None = None
    duration_s: float = 0.0
    bot_audio_s: float = 0.0
    clears: int = 0
    error: str | None = None
    close_code: int | None = None
    """The WebSocket close code, once the call is over (1013: the worker would not admit it)."""
    close_reason: str = ""
    """The close frame's reason (why a worker refused the call after accepting it)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "call_id": self.call_id,
            "protocol": self.protocol,
            "refused": self.refused,
            "pickup_ms": self.pickup_ms,
            "turns": [t.__dict__ for t in self.turns],
            "hung_up_by": self.hung_up_by,
            "duration_s": round(self.duration_s, 3),
            "bot_audio_s": round(self.bot_audio_s, 3),
            "clears": self.clears,
            "error": self.error,
            "close_code": self.close_code,
            "close_reason": self.close_reason,
        }


class _Phase(StrEnum):
    WAIT_BOT = "wait_bot"
    SPEAK = "speak"
    WAIT_REPLY = "wait_reply"
    DONE = "done"


class SimulatedCall:
    """Call ``base_url`` for ``bot_id`` over ``protocol`` and follow ``script``."""

    def __init__(
        self,
        base_url: str,
        bot_id: str,
        protocol: str,
        script: Script,
        *,
        call_id: str | None = None,
        parameters: dict[str, Any] | None = None,
        junk: tuple[str | bytes, ...] = (),
    ) -> None:
        """Prepare the call.

        Args:
            base_url: The worker's WebSocket base URL, e.g. ``ws://127.0.0.1:8001``.
            bot_id: The bot to call (the route's last segment).
            protocol: ``twilio``, ``exotel`` or ``websocket``.
            script: What the caller says.
            call_id: An Ori call id to pass along (an outbound call), if any.
            parameters: More carrier custom parameters.
            junk: Malformed messages to send after the opening and before each line.
        """
        self.junk = junk
        self.url = f"{base_url.rstrip('/')}/{ROUTES[protocol]}/{bot_id}"
        self.script = script
        params = dict(parameters or {})
        if call_id:
            params["call_id"] = call_id
        self.carrier: Carrier = PROTOCOLS[protocol](f"CA{uuid.uuid4().hex}", params)
        self.report = CallReport(call_id=call_id or "", protocol=protocol)
        self._utterances = [speak(line.text, script.voice) for line in script.lines]
        self._buffer = bytearray()
        self._closed = asyncio.Event()
        self._clear_times: list[float] = []

    async def run(self) -> CallReport:
        """Place the call and follow the script; never raises for call trouble."""
        started = time.monotonic()
        try:
            # No permessage-deflate: carriers' media streams are not compressed, and
            # deflating 50 audio messages a second costs both ends CPU for nothing.
            async with connect(self.url, max_size=2**22, open_timeout=10, compression=None) as ws:
                await self._converse(ws, started)
            self.report.close_code = ws.close_code
            self.report.close_reason = ws.close_reason or ""
        except InvalidStatus as exc:
            body = exc.response.body.decode(errors="replace") if exc.response.body else ""
            self.report.refused = f"HTTP {exc.response.status_code} {body}".strip()
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            self.report.error = f"{type(exc).__name__}: {exc}"
        self.report.duration_s = time.monotonic() - started
        return self.report

    async def _receive(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                incoming = self.carrier.decode(message)
                if incoming.clear:
                    self._buffer.clear()
                    self._clear_times.append(time.monotonic())
                    self.report.clears += 1
                if incoming.audio:
                    self._buffer.extend(incoming.audio)
        except ConnectionClosed:
            pass
        finally:
            self._closed.set()

    def _play(self) -> bytes:
        frame = bytes(self._buffer[:FRAME_BYTES])
        del self._buffer[:FRAME_BYTES]
        return frame

    async def _converse(self, ws: ClientConnection, started: float) -> None:
        for message in (*self.carrier.opening(), *self.junk):
            await ws.send(message)
        receiver = asyncio.create_task(self._receive(ws), name="sim-receive")
        try:
            hung_up = await self._tick_loop(ws, started)
        finally:
            if not self._closed.is_set():
                with contextlib.suppress(ConnectionClosed):
                    for message in self.carrier.closing():
                        await ws.send(message)
                    await ws.close()
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        self.report.hung_up_by = hung_up

    async def _tick_loop(self, ws: ClientConnection, started: float) -> str:
        state = _State(self.script, self._utterances, started)
        tick = 0
        while True:
            due = started + tick * TICK_S
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.monotonic()
            if self._closed.is_set():
                return "bot"
            if now - started > self.script.max_call_s:
                return "caller"
            try:
                if state.line_starting and self.junk:
                    for message in self.junk:
                        await ws.send(message)
                await ws.send(self.carrier.media(state.next_caller_frame(), tick))
            except ConnectionClosed:
                return "bot"
            heard = self._play()
            voiced = louder_than(heard, VOICED_DBFS)
            if voiced:
                self.report.bot_audio_s += TICK_S
            if state.advance(now, voiced, self.report, self._clear_times):
                return "caller"
            tick += 1


class _State:
    """The script's progress, advanced once per tick."""

    def __init__(self, script: Script, utterances: list[Utterance], started: float) -> None:
        self.script = script
        self.utterances = utterances
        self.started = started
        self.phase = _Phase.WAIT_BOT
        self.index = 0
        self.bot_heard = False
        self.voiced_since: float | None = None
        self.silent_since: float | None = started
        self.frames: list[bytes] = []
        self.frame_count = 0
        self.turn: TurnReport | None = None
        self.onset: float | None = None
        self.speech_end: float | None = None
        self.waiting_since = started

    @property
    def line_starting(self) -> bool:
        """Whether the next caller frame is the first of a line."""
        return self.phase is _Phase.SPEAK and len(self.frames) == self.frame_count

    def next_caller_frame(self) -> bytes:
        if self.frames:
            return self.frames.pop(0)
        return bytes(FRAME_BYTES)

    def _start_line(self, now: float, report: CallReport) -> None:
        line, utt = self.script.lines[self.index], self.utterances[self.index]
        pcm = utt.pcm + bytes(-len(utt.pcm) % FRAME_BYTES)
        self.frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        self.frame_count = len(self.frames)
        self.turn = TurnReport(line.text, barge_in=line.barge_in_after_ms is not None)
        self.turn.spoke_at_s = round(now - self.started, 3)
        report.turns.append(self.turn)
        self.onset = now + utt.speech_start_s
        self.speech_end = now + utt.speech_end_s
        self.phase = _Phase.SPEAK

    def advance(self, now: float, voiced: bool, report: CallReport, clears: list[float]) -> bool:
        """Update on one played frame; True when the caller hangs up."""
        if voiced:
            # A bot utterance starts after at least 300 ms of silence; word gaps don't count.
            after_gap = self.silent_since is not None and now - self.silent_since >= _GAP_S
            if after_gap or self.voiced_since is None:
                self.voiced_since = now
            self.silent_since = None
            if not self.bot_heard:
                self.bot_heard = True
                report.pickup_ms = round((now - self.started) * 1000)
        else:
            if self.silent_since is None:
                self.silent_since = now
            if now - self.silent_since >= _GAP_S:
                self.voiced_since = None
        if self.phase is _Phase.WAIT_BOT:
            return self._wait_bot(now, report)
        if self.phase is _Phase.SPEAK:
            self._speak(now, clears)
        elif self.phase is _Phase.WAIT_REPLY:
            self._wait_reply(now, voiced)
        return False

    def _wait_bot(self, now: float, report: CallReport) -> bool:
        done_s = self.script.bot_done_silence_ms / 1000
        bot_quiet = self.silent_since is not None and now - self.silent_since >= done_s
        if self.index >= len(self.script.lines):
            return bot_quiet and now - self.silent_since >= self.script.hang_up_after_s  # type: ignore[operator]
        if now - self.waiting_since > self.script.response_timeout_s + 30:
            return True
        barge = self.script.lines[self.index].barge_in_after_ms
        if barge is not None:
            if self.voiced_since is not None and now - self.voiced_since >= barge / 1000:
                self._start_line(now, report)
        elif self.bot_heard and bot_quiet:
            self._start_line(now, report)
        return False

    def _speak(self, now: float, clears: list[float]) -> None:
        turn, onset = self.turn, self.onset
        assert turn is not None and onset is not None
        silent = self.silent_since
        stopped = silent is not None and now - silent >= _STOPPED_S
        if turn.barge_in and turn.bargein_ms is None and now >= onset and silent and stopped:
            turn.bargein_ms = max(0, round((silent - onset) * 1000))
            after = [t for t in clears if t >= onset - 0.5]
            turn.clear_ms = round((after[0] - onset) * 1000) if after else None
        if not self.frames and self.speech_end is not None and now >= self.speech_end:
            self.phase = _Phase.WAIT_REPLY
            self.waiting_since = now

    def _wait_reply(self, now: float, voiced: bool) -> None:
        turn = self.turn
        assert turn is not None and self.speech_end is not None
        if voiced:
            turn.latency_ms = round((now - self.speech_end) * 1000)
        elif now - self.waiting_since < self.script.response_timeout_s:
            return
        self.index += 1
        self.phase = _Phase.WAIT_BOT
        self.waiting_since = now

"""A simulated caller in a LiveKit room: the same script and clock as the carrier simulator.

:class:`LiveKitCall` joins a room with a token (a browser's, or one that says the participant
is a SIP caller), publishes a microphone track fed every 20 ms (a scripted line spoken by
eSpeak NG, or silence), subscribes to the bot's audio and plays it like a phone, detecting
the bot's speech by level, and follows its :class:`~ori_worker.sim.caller.Script` exactly as
:class:`~ori_worker.sim.caller.SimulatedCall` does. The room closing under it is the bot
hanging up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
from livekit import rtc

from ori_contracts.wire import (
    LIVEKIT_WIDGET_PATH,
    LiveKitWidgetRequest,
    LiveKitWidgetSession,
    bearer,
)
from ori_worker.sim.audio import FRAME_BYTES, FRAME_SAMPLES, RATE_HZ, level_dbfs, speak
from ori_worker.sim.caller import TICK_S, VOICED_DBFS, CallReport, Script, _State

CONNECT_TIMEOUT_S = 10.0


class LiveKitCall:
    """Join ``room`` on ``url`` with ``token`` and follow ``script``."""

    def __init__(self, url: str, token: str, script: Script, *, call_id: str = "") -> None:
        """Prepare the call.

        Args:
            url: The LiveKit server URL.
            token: The caller's access token for the room.
            script: What the caller says.
            call_id: The call's id, for the report.
        """
        self.url, self.token, self.script = url, token, script
        self.report = CallReport(call_id=call_id, protocol="livekit")
        self._utterances = [speak(line.text, script.voice) for line in script.lines]
        self._buffer = bytearray()
        self._closed = asyncio.Event()
        self._readers: list[asyncio.Task[None]] = []
        self.heard_from: set[str] = set()
        """Identities of the participants whose audio the caller received."""

    async def run(self) -> CallReport:
        """Place the call and follow the script; never raises for call trouble."""
        room = rtc.Room()
        room.on("track_subscribed", self._on_track)
        room.on("disconnected", lambda *_: self._closed.set())
        started = time.monotonic()
        try:
            await asyncio.wait_for(room.connect(self.url, self.token), CONNECT_TIMEOUT_S)
            source = rtc.AudioSource(RATE_HZ, 1)
            track = rtc.LocalAudioTrack.create_audio_track("caller", source)
            options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            await room.local_participant.publish_track(track, options)
            self.report.hung_up_by = await self._tick_loop(source, started)
        except (rtc.ConnectError, TimeoutError, OSError) as exc:
            self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            for reader in self._readers:
                reader.cancel()
            await asyncio.gather(*self._readers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await room.disconnect()
        self.report.duration_s = time.monotonic() - started
        return self.report

    def _on_track(
        self, track: rtc.Track, _publication: object, participant: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self.heard_from.add(participant.identity)
            self._readers.append(asyncio.create_task(self._receive(track), name="lk-sim-rx"))

    async def _receive(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=RATE_HZ, num_channels=1)
        try:
            async for event in stream:
                self._buffer.extend(event.frame.data.tobytes())
        finally:
            await stream.aclose()

    def _play(self) -> bytes:
        frame = bytes(self._buffer[:FRAME_BYTES])
        del self._buffer[:FRAME_BYTES]
        return frame

    async def _tick_loop(self, source: rtc.AudioSource, started: float) -> str:
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
            pcm = state.next_caller_frame()
            await source.capture_frame(rtc.AudioFrame(pcm, RATE_HZ, 1, FRAME_SAMPLES))
            voiced = level_dbfs(self._play()) > VOICED_DBFS
            if voiced:
                self.report.bot_audio_s += TICK_S
            if state.advance(now, voiced, self.report, []):
                return "caller"
            tick += 1


async def widget_call(
    worker_url: str, bot_id: str, script: Script, *, secret: str, timeout_s: float = 10.0
) -> CallReport:
    """Open a widget call on a worker (``POST /livekit/widget``) and follow ``script`` in it.

    A refusal (busy, no LiveKit, bad secret) is reported in ``refused``, never raised.
    """
    body = LiveKitWidgetRequest(bot_id=bot_id).model_dump(mode="json", exclude_none=True)
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            answer = await http.post(
                f"{worker_url.rstrip('/')}{LIVEKIT_WIDGET_PATH}", json=body, headers=bearer(secret)
            )
    except httpx.HTTPError as exc:
        report = CallReport(call_id="", protocol="livekit")
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    if answer.status_code != 201:
        report = CallReport(call_id="", protocol="livekit")
        report.refused = f"HTTP {answer.status_code} {answer.text}".strip()
        return report
    session = LiveKitWidgetSession.model_validate(answer.json())
    return await LiveKitCall(session.url, session.token, script, call_id=session.call_id).run()

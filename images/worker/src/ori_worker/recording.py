"""The call recording: caller on the left channel, bot on the right, on one timeline.

:class:`StereoTimeline` places audio the way the caller experienced it. The caller's audio
arrives in real time and defines the clock (its sample count; gaps in the carrier's stream
are filled by wall-clock time). Given an ``origin`` (the call's start, which is also the
transcript's zero, so a turn's ``started_at_ms`` is where it is heard), the time before
the caller's first audio is silence on their side too: a LiveKit caller's track may arrive a
while after the bot joined the room, and the bot may already be talking. Each bot chunk
starts where the previous one ended or at "now", whichever is later, because the carrier
plays it out in real time; a barge-in drops whatever bot audio had not been played yet, as
the carrier's ``clear`` does. Finished audio is streamed to a WAV file, so a long call
costs no memory.

:class:`CallerTap` (after the input transport) and :class:`BotTap` (after the output
transport) feed the timeline from the pipeline; :func:`upload_recording` puts the file in
object storage. :class:`CallerAudioStop` measures how far the VAD and STT run behind the
caller's audio (:class:`AudioLag`), so speech events land where they are in the recording.
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from minio import Minio
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from ori_contracts import RecordingChannels, RecordingFormat, RecordingRef

_FLUSH_EVERY_S = 1.0
_HEARD_AT = "ori_heard_at"


@dataclass
class AudioLag:
    """How long the caller's latest audio took from the input to the end of the user aggregator.

    On a loaded host the STT and VAD fall behind real time; an event they raise happened
    ``seconds`` earlier in the caller's audio (and in the recording) than it was observed.
    """

    seconds: float = 0.0


class StereoTimeline:
    """Two aligned 16-bit mono tracks written interleaved to a WAV file as they settle."""

    def __init__(self, path: Path, sample_rate_hz: int, *, origin: float | None = None) -> None:
        self.path = path
        self.rate = sample_rate_hz
        self._writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed in close()
        self._writer.setnchannels(2)
        self._writer.setsampwidth(2)
        self._writer.setframerate(sample_rate_hz)
        self._base = 0  # samples already written to the file
        self._caller = bytearray()  # caller samples from _base on
        self._bot = bytearray()  # bot samples from _base on (may run ahead of the caller)
        self._origin = origin  # the monotonic time of sample 0 (the caller's first, if None)
        self._caller_started = False
        self.closed = False

    def start(self, origin: float) -> None:
        """The call starts at monotonic time ``origin``: sample 0, and the transcript's zero."""
        if self._caller_started or self._bot:
            raise RuntimeError("the recording has audio already; its start cannot move")
        self._origin = origin

    @property
    def now(self) -> int:
        """The current position, in samples: how much caller audio the call has had."""
        return self._base + len(self._caller) // 2

    @property
    def frames_written(self) -> int:
        """Stereo frames in the file so far."""
        return self._base

    def add_caller(self, pcm: bytes, at: float | None = None) -> None:
        """Append caller audio received at monotonic time ``at`` (gaps become silence)."""
        at = time.monotonic() if at is None else at
        starts = at - len(pcm) / 2 / self.rate
        if self._origin is None:
            self._origin = starts
        # the wait for the caller's first audio is silence however short; later, a gap
        # within the tolerance is jitter that the stream makes up
        self._fill_caller_gap(starts, tolerance_s=0.2 if self._caller_started else 0.0)
        self._caller_started = True
        self._caller.extend(pcm)
        if len(self._caller) >= self.rate * 2 * _FLUSH_EVERY_S:
            self._flush(self.now)

    def _fill_caller_gap(self, upto: float, tolerance_s: float) -> bool:
        """Silence on the caller's side up to ``upto``, once their audio is behind the clock.

        Measured from the origin, not from the caller's last frame: many short gaps (a sender
        that skips silence, a jittery stream) add up, and the caller's track must not drift
        ahead of the bot's. Within ``tolerance_s`` nothing is added (jitter, not a gap).
        """
        if self._origin is None:
            return False
        behind = round((upto - self._origin) * self.rate) - self.now
        if behind <= tolerance_s * self.rate:
            return False
        self._caller.extend(bytes(behind * 2))
        return True

    def add_bot(self, pcm: bytes) -> None:
        """Append bot audio as it is sent: it plays from the later of "now" and its queue end."""
        if not self._caller_started:
            # before the caller's first audio, the wall clock is "now"
            self._fill_caller_gap(time.monotonic(), tolerance_s=0.0)
        bot_end = self._base + len(self._bot) // 2
        if bot_end < self.now:
            self._bot.extend(bytes((self.now - bot_end) * 2))
        self._bot.extend(pcm)

    def clear_bot(self) -> None:
        """The caller barged in: bot audio not yet played is discarded."""
        keep = max(0, self.now - self._base) * 2
        del self._bot[keep:]

    def _flush(self, upto: int) -> None:
        count = upto - self._base
        if count <= 0:
            return
        caller = np.frombuffer(bytes(self._caller[: count * 2]).ljust(count * 2, b"\0"), np.int16)
        bot = np.frombuffer(bytes(self._bot[: count * 2]).ljust(count * 2, b"\0"), np.int16)
        self._writer.writeframes(np.column_stack((caller, bot)).tobytes())
        del self._caller[: count * 2]
        del self._bot[: count * 2]
        self._base = upto

    def close(self) -> int:
        """Write everything (the bot's tail included) and close the file; returns frames."""
        if not self.closed:
            bot_end = self._base + len(self._bot) // 2
            self._flush(max(self.now, bot_end))
            self._writer.close()
            self.closed = True
        return self._base


class CallerTap(FrameProcessor):
    """Stamps caller audio with its arrival and records it (placed after the input).

    Without a timeline (recording off) it only stamps.
    """

    def __init__(self, timeline: StereoTimeline | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeline = timeline

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Stamp and record caller audio, then pass the frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            now = time.monotonic()
            frame.metadata[_HEARD_AT] = now
            if self.timeline is not None and not self.timeline.closed:
                self.timeline.add_caller(frame.audio, now)
        await self.push_frame(frame, direction)


class BotTap(FrameProcessor):
    """Records the bot's audio and barge-ins (placed after the output transport)."""

    def __init__(self, timeline: StereoTimeline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeline = timeline

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Record bot audio and drop unplayed audio on a barge-in, then pass the frame on."""
        await super().process_frame(frame, direction)
        if not self.timeline.closed:
            if isinstance(frame, OutputAudioRawFrame):
                self.timeline.add_bot(frame.audio)
            elif isinstance(frame, InterruptionFrame):
                self.timeline.clear_bot()
        await self.push_frame(frame, direction)


class CallerAudioStop(FrameProcessor):
    """Stops the caller's audio frames once the VAD, STT and turn detection have seen them.

    Nothing after the user aggregator uses them, and each processor they would still pass
    (LLM, TTS, output, recorder, assistant aggregator) costs CPU 50 times a second. On the
    way out it updates ``lag``: the aggregator pushes each audio frame just before the VAD
    events that frame raises, so the lag measured here is the lag of those events.
    """

    def __init__(self, lag: AudioLag | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lag = lag if lag is not None else AudioLag()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Drop caller audio going downstream; pass everything else on."""
        await super().process_frame(frame, direction)
        if not (isinstance(frame, InputAudioRawFrame) and direction is FrameDirection.DOWNSTREAM):
            await self.push_frame(frame, direction)
            return
        heard_at = frame.metadata.get(_HEARD_AT)
        if heard_at is not None:
            self.lag.seconds = max(0.0, time.monotonic() - heard_at)


@dataclass(frozen=True)
class StorageTarget:
    """Where recordings go."""

    client: Minio
    bucket: str


def object_key(workspace_id: str, call_id: str, day: datetime) -> str:
    """``<workspace>/<yyyy>/<mm>/<dd>/<call_id>.wav``."""
    return f"{workspace_id}/{day:%Y/%m/%d}/{call_id}.wav"


def upload_recording(
    target: StorageTarget, path: Path, key: str, sample_rate_hz: int, frames: int
) -> RecordingRef:
    """Upload a finished recording (blocking; run it in a thread) and describe it."""
    size = path.stat().st_size
    target.client.fput_object(target.bucket, key, str(path), content_type="audio/wav")
    return RecordingRef(
        bucket=target.bucket,
        object_key=key,
        format=RecordingFormat.WAV,
        channels=RecordingChannels.STEREO,
        sample_rate_hz=sample_rate_hz,
        duration_ms=round(frames * 1000 / sample_rate_hz),
        size_bytes=size,
    )

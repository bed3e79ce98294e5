"""Speech is placed in the transcript where it is heard in the recording."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from pipecat.frames.frames import VADUserStartedSpeakingFrame
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from ori_worker.analyzers import SharedSileroVAD
from ori_worker.call_record import CallClock, CallRecorder, Kind
from ori_worker.sim.audio import RATE_HZ, speak

pytestmark = pytest.mark.unit

CHUNK = RATE_HZ // 50  # 20 ms, as a carrier sends it


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE_HZ) * 2)


def scaled(pcm: bytes, gain: float) -> bytes:
    return (np.frombuffer(pcm, np.int16) * gain).astype(np.int16).tobytes()


async def edges_heard(audio: bytes) -> list[tuple[VADState, float, float]]:
    """Each VAD event: the state, when it fired (s into the audio), how long ago speech changed."""
    vad = SharedSileroVAD(params=VADParams())
    vad.set_sample_rate(RATE_HZ)  # as the pipeline does when it starts
    events: list[tuple[VADState, float, float]] = []
    state = VADState.QUIET
    for i in range(0, len(audio), CHUNK * 2):
        new = await vad.analyze_audio(audio[i : i + CHUNK * 2])
        fed_s = (i // 2 + CHUNK) / RATE_HZ
        if new is VADState.SPEAKING and state in (VADState.QUIET, VADState.STARTING):
            events.append((new, fed_s, vad.edges.started_s))
        elif new is VADState.QUIET and state in (VADState.SPEAKING, VADState.STOPPING):
            events.append((new, fed_s, vad.edges.stopped_s))
        state = new
    return events


@pytest.mark.parametrize("gain", [1.0, 0.3])
async def test_the_vad_says_how_long_before_its_events_speech_started_and_stopped(
    gain: float,
) -> None:
    said = speak("Goodbye")
    audio = silence(1.0) + scaled(said.pcm, gain) + silence(1.5)
    events = await edges_heard(audio)
    assert [e[0] for e in events] == [VADState.SPEAKING, VADState.QUIET]
    (_, started_at, started_ago), (_, stopped_at, stopped_ago) = events
    assert abs(started_at - started_ago - (1.0 + said.speech_start_s)) < 0.1
    assert abs(stopped_at - stopped_ago - (1.0 + said.speech_end_s)) < 0.15
    # pipecat's own figure (start_secs before the event) would be later than the onset
    assert started_at - VADParams().start_secs > 1.0 + said.speech_start_s + 0.1


async def test_an_event_is_dated_by_its_push_not_by_when_the_observer_sees_it() -> None:
    clock = CallClock()
    clock.start()
    recorder = CallRecorder(clock=clock)
    stamp = clock.get_time()
    pushed_at = time.monotonic()
    await asyncio.sleep(0.3)  # the observer queue runs behind the pipeline
    data = FramePushed(
        source=FrameProcessor(),
        destination=FrameProcessor(),
        frame=VADUserStartedSpeakingFrame(),
        direction=FrameDirection.DOWNSTREAM,
        timestamp=stamp,
    )
    await recorder.on_push_frame(data)
    event = recorder.last(Kind.USER_SPEECH_START)
    assert event is not None
    assert abs(event.at - (pushed_at - recorder.edges.started_s)) < 0.05

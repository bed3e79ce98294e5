"""The parts that keep a worker lean: one observer queue, a small STT vocabulary, a frozen heap."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from typing import Any

import pytest
from pipecat.frames.frames import InputAudioRawFrame, TextFrame, VADUserStartedSpeakingFrame
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from ori_worker import memory
from ori_worker.analyzers import SpeechEdges
from ori_worker.call_record import CallRecorder, Kind
from ori_worker.observers import CallObservers
from ori_worker.providers.pocketsphinx_stt import open_recogniser, pronunciations
from ori_worker.recording import AudioLag, CallerAudioStop

pytestmark = pytest.mark.unit


class Seen(BaseObserver):
    def __init__(self, *, every_push: bool = False) -> None:
        super().__init__(observe_every_push=every_push)
        self.pushed: list[Any] = []
        self.started = 0

    async def on_push_frame(self, data: FramePushed) -> None:
        self.pushed.append(data.frame)

    async def on_pipeline_started(self) -> None:
        self.started += 1


class SeenProcessed(Seen):
    def __init__(self) -> None:
        super().__init__()
        self.processed: list[Any] = []

    async def on_process_frame(self, data: FrameProcessed) -> None:
        self.processed.append(data.frame)


def pushed(frame: Any) -> FramePushed:
    source, destination = FrameProcessor(), FrameProcessor()
    return FramePushed(
        source=source,
        destination=destination,
        frame=frame,
        direction=FrameDirection.DOWNSTREAM,
        timestamp=0,
    )


async def test_call_observers_pass_everything_but_the_caller_s_audio() -> None:
    plain, with_processed = Seen(), SeenProcessed()
    both = CallObservers([plain, with_processed])
    text, audio = TextFrame("hi"), InputAudioRawFrame(b"\0\0" * 160, 8000, 1)
    for frame in (text, audio):
        await both.on_push_frame(pushed(frame))
        await both.on_process_frame(
            FrameProcessed(
                processor=FrameProcessor(),
                frame=frame,
                direction=FrameDirection.DOWNSTREAM,
                timestamp=0,
            )
        )
    await both.on_pipeline_started()
    assert plain.pushed == [text] and with_processed.pushed == [text]
    assert with_processed.processed == [text]  # only to those that handle it
    assert plain.started == with_processed.started == 1
    assert not both.observe_every_push


def test_call_observers_refuse_an_observer_of_every_push() -> None:
    with pytest.raises(ValueError, match="first pushes"):
        CallObservers([Seen(every_push=True)])


def test_the_vocabulary_comes_from_the_bundled_dictionary_alternatives_included() -> None:
    found = pronunciations(["hours", "open", "zzqxv"])
    assert found["hours"] == [("hours", "AW ER Z"), ("hours(2)", "AW R Z")]
    assert found["open"] == [("open", "OW P AH N")]
    assert "zzqxv" not in found  # unknown words are left out


def test_a_grammar_decoder_knows_only_its_phrases_words() -> None:
    recogniser = open_recogniser(["What are your opening hours"])
    decoder = recogniser.decoder
    assert decoder.lookup_word("opening") == "OW P AH N IH NG"
    assert decoder.lookup_word("hours(2)") == "AW R Z"
    assert pronunciations(["zebra"])  # in the bundled dictionary, in no test's phrases,
    assert decoder.lookup_word("zebra") is None  # so not in the decoder's


def test_settling_freezes_what_start_up_left_and_release_still_collects() -> None:
    try:
        memory.settle()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        cycle: list[Any] = []
        cycle.append(cycle)
        del cycle
        memory.release_memory()
        assert gc.get_freeze_count() == frozen  # release does not unfreeze
    finally:
        gc.unfreeze()
    assert memory.tune_allocator() is True  # glibc (Linux) in this project's images


async def test_speech_events_are_placed_where_the_caller_said_them_despite_a_lagging_stt() -> None:
    lag = AudioLag()
    stop = CallerAudioStop(lag)
    audio = InputAudioRawFrame(b"\0\0" * 320, 16000, 1)
    audio.metadata["ori_heard_at"] = time.monotonic() - 0.5  # heard half a second ago
    await stop.process_frame(audio, FrameDirection.DOWNSTREAM)
    assert 0.5 <= lag.seconds < 1.5

    recorder = CallRecorder(edges=SpeechEdges(0.2, 0.2), lag=lag)
    before = time.monotonic()
    await recorder.on_push_frame(pushed(VADUserStartedSpeakingFrame()))
    start = recorder.last(Kind.USER_SPEECH_START)
    assert start is not None and start.at < before - 0.69  # 0.5 s lag + 0.2 s VAD onset


def test_a_worker_without_livekit_settings_does_not_load_the_livekit_sdk() -> None:
    probe = "import sys, ori_worker.app; print(sorted(m for m in sys.modules if 'livekit' in m))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "['ori_worker.livekit_routes']"


def test_an_offline_bot_s_llm_does_not_load_the_openai_sdk() -> None:
    probe = (
        "import sys\n"
        "from ori_contracts import ScriptedLlmConfig\n"
        "from ori_worker.providers.scripted_llm import Script, ScriptedLLMService\n"
        "ScriptedLLMService(script=Script(ScriptedLlmConfig()))\n"
        "print('openai' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "False"

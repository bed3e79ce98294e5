"""Helpers for the cloud-provider tests: real ears and a real voice for the stand-ins, and a
small pipecat pipeline to run one service in.

The stand-ins (:mod:`ori_e2e.standins`) recognise with PocketSphinx over the caller's phrases
(the worker's own offline recogniser, so what they transcribe is what the audio says) and
speak with eSpeak NG.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import soxr
from pipecat.frames.frames import EndFrame, ErrorFrame, Frame, InputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from ori_e2e.standins import Synthesizer, Transcriber
from ori_worker.providers.espeak_engine import espeak_engine
from ori_worker.providers.pocketsphinx_stt import MODEL_RATE_HZ, open_recogniser, trim_to_speech
from ori_worker.sim.audio import RATE_HZ, speak

WAIT_S = 20.0


def sphinx_transcriber(phrases: Sequence[str]) -> Transcriber:
    """PocketSphinx with a grammar of ``phrases``: hears what the audio really says."""
    recogniser = open_recogniser(phrases)
    lock = threading.Lock()

    def transcribe(pcm: bytes, rate_hz: int) -> str:
        samples = np.frombuffer(pcm, dtype=np.int16)
        wide = soxr.resample(samples, rate_hz, MODEL_RATE_HZ).astype(np.int16)
        # A little fixed noise: runs of digital silence (exact zeros, which no phone line
        # carries) throw PocketSphinx's running cepstral mean off for the words after them.
        dither = np.random.default_rng(0).integers(-2, 3, len(wide))
        wide = np.clip(wide.astype(np.int32) + dither, -32768, 32767).astype(np.int16)
        with lock:
            return recogniser.decode(trim_to_speech(wide, MODEL_RATE_HZ).tobytes())

    return transcribe


def espeak_synthesizer(text: str, rate_hz: int) -> bytes:
    """eSpeak NG speaking ``text`` at ``rate_hz``."""
    speech = espeak_engine().synthesize(text)
    samples = np.frombuffer(speech.pcm, dtype=np.int16)
    return bytes(soxr.resample(samples, speech.sample_rate_hz, rate_hz).astype(np.int16).tobytes())


ESPEAK: Synthesizer = espeak_synthesizer


class RecordingVoice:
    """eSpeak NG, remembering the audio of everything it said (eSpeak's output differs by a
    sample or two from one run to the next, so tests compare against what was really sent)."""

    def __init__(self) -> None:
        self.said: list[tuple[str, int, bytes]] = []

    def __call__(self, text: str, rate_hz: int) -> bytes:
        pcm = espeak_synthesizer(text, rate_hz)
        self.said.append((text, rate_hz, pcm))
        return pcm

    @property
    def audio(self) -> bytes:
        """All it said, in order."""
        return b"".join(pcm for _, _, pcm in self.said)


def caller_frames(text: str, silence_s: float = 0.8) -> list[InputAudioRawFrame]:
    """``text`` spoken by the simulated caller (8 kHz), then silence, in 20 ms frames."""
    pcm = speak(text).pcm + bytes(int(silence_s * RATE_HZ) * 2)
    step = RATE_HZ // 50 * 2
    return [InputAudioRawFrame(pcm[i : i + step], RATE_HZ, 1) for i in range(0, len(pcm), step)]


class Collector(FrameProcessor):
    """Keeps every frame that reaches the end of the pipeline."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
            self.changed.set()
        await self.push_frame(frame, direction)

    def of(self, kind: type[Any]) -> list[Any]:
        """The frames of ``kind`` received so far."""
        return [f for f in self.frames if isinstance(f, kind)]


class ServicePipeline:
    """One service between the pipeline's start and a :class:`Collector`, at 8 kHz."""

    def __init__(self, service: FrameProcessor) -> None:
        self.sink = Collector()
        self.worker = PipelineWorker(
            Pipeline([service, self.sink]),
            params=PipelineParams(audio_in_sample_rate=RATE_HZ, audio_out_sample_rate=RATE_HZ),
            enable_rtvi=False,
            idle_timeout_secs=None,
        )
        self.errors: list[str] = []
        self._started = asyncio.Event()
        self.worker.add_event_handler("on_pipeline_started", self._on_started)
        self.worker.add_event_handler("on_pipeline_error", self._on_error)
        self._run: asyncio.Task[None] | None = None

    async def _on_started(self, _worker: object, _frame: object) -> None:
        self._started.set()

    async def _on_error(self, _worker: object, frame: ErrorFrame) -> None:
        self.errors.append(frame.error)
        self.sink.changed.set()

    async def __aenter__(self) -> ServicePipeline:
        runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
        await runner.add_workers(self.worker)
        self._run = asyncio.create_task(runner.run())
        await asyncio.wait_for(self._started.wait(), WAIT_S)
        return self

    async def send(self, frames: Sequence[Frame], pace_s: float = 0.001) -> None:
        """Queue ``frames`` at the start of the pipeline, a little apart."""
        for frame in frames:
            await self.worker.queue_frame(frame)
            await asyncio.sleep(pace_s)

    async def wait_for(self, done: Callable[[Collector], bool], limit_s: float = WAIT_S) -> None:
        """Wait (at most ``limit_s``) until ``done`` holds for what has arrived."""
        async with asyncio.timeout(limit_s):
            while not done(self.sink):
                self.sink.changed.clear()
                await self.sink.changed.wait()

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.queue_frame(EndFrame())
        if self._run is not None:
            await asyncio.wait_for(self._run, WAIT_S)

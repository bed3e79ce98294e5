"""Silero VAD and Smart Turn v3 analyzers that share one ONNX session per process.

Pipecat's analyzers load their ONNX model each time one is built (tens of milliseconds and
several megabytes per call, never fully returned). A worker runs one call after another, so
the sessions (stateless and safe to share) are created once, ahead of the first call, and
every call's analyzers get their own per-stream state around them.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import onnxruntime
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.metrics.metrics import MetricsData


def _options(threads: int, *, arena: bool = False) -> onnxruntime.SessionOptions:
    """Session options for one call's worth of inference on a shared host.

    One thread that never spins (a spinning ONNX thread pool burns a core waiting for
    work, and a host runs many workers). No memory pattern, which would keep the largest
    inference's buffers for the life of the process. ``arena``: ONNX's own arena, for a
    model whose every run is large (see :class:`ShrinkingSession`); without it, buffers go
    straight to the allocator, which suits Silero's many tiny runs.
    """
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = arena
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


SHRINK_ARENA = "memory.enable_memory_arena_shrinkage"
"""ONNX Runtime's run option: give these devices' arena memory back when the run ends."""


class ShrinkingSession:
    """An ONNX session whose arena is given back at the end of every run.

    Smart Turn's inference needs about 17 MB of buffers. Through ONNX's arena they come
    from a few large blocks, which :func:`ori_worker.memory.tune_allocator` has mapped on
    their own, so the shrink at the end of each run returns them to the system at once.
    ``images/worker/bench/bench_smart_turn_memory.py`` (twelve runs on the turn model's
    thread): 21.6 MB above the start at the peak and 3 to 4 MB after, against 37.1 MB that
    stay resident without the arena and the fixed threshold; 84 to 86 ms a run against 74
    (the freed blocks are faulted in afresh each time).
    """

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session
        self.run_options = onnxruntime.RunOptions()
        self.run_options.add_run_config_entry(SHRINK_ARENA, "cpu:0")

    def run(self, output_names: list[str] | None, feeds: dict[str, Any]) -> list[Any]:
        """Run the model, then return its arena's memory."""
        outputs: list[Any] = self._session.run(output_names, feeds, self.run_options)
        return outputs


def _model_path(package: str, name: str) -> str:
    return str(resources.files(package).joinpath(name))


@lru_cache(maxsize=1)
def silero_session() -> onnxruntime.InferenceSession:
    """The process's Silero VAD session (the model bundled with pipecat)."""
    path = _model_path("pipecat.audio.vad.data", "silero_vad.onnx")
    return onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"], sess_options=_options(1)
    )


def smart_turn_model() -> str:
    """The path of the Smart Turn v3 model bundled with pipecat."""
    return _model_path("pipecat.audio.turn.smart_turn.data", "smart-turn-v3.2-cpu.onnx")


@lru_cache(maxsize=1)
def smart_turn_session() -> ShrinkingSession:
    """The process's Smart Turn v3 session."""
    session = onnxruntime.InferenceSession(
        smart_turn_model(),
        providers=["CPUExecutionProvider"],
        sess_options=_options(1, arena=True),
    )
    return ShrinkingSession(session)


SILENCE_PEAK = 100
"""Peak sample value (about -50 dBFS) below which a window is silence without asking Silero."""


MAX_EDGE_EXTRA_S = 1.0
"""How much earlier than ``start_secs``/``stop_secs`` before its event an edge may be placed."""


@dataclass
class SpeechEdges:
    """How long before the VAD's latest start and stop events the speech started and stopped.

    Pipecat's VAD reports speech once it has lasted ``start_secs`` and its smoothed volume has
    climbed past ``min_volume``, so a soft or slow onset is reported later than
    ``start_secs`` after it began (0.1-0.4 s more, varying with loudness); the same holds for
    the end. :class:`SharedSileroVAD` measures the run of windows Silero scored as voice (or
    as not) behind each event, so the transcript can place the turn where it is heard.
    """

    started_s: float = 0.2
    stopped_s: float = 0.2


class SharedSileroVAD(SileroVADAnalyzer):
    """Silero VAD with its own recurrent state around the process's shared session.

    Two changes to save CPU on every 32 ms window, which dominate an idle call's cost: a
    window whose peak is below :data:`SILENCE_PEAK` scores zero without running the model
    (it could not pass the volume threshold anyway), and the analysis runs on the event
    loop (well under a millisecond) instead of a thread-pool round trip. It also keeps
    :attr:`edges` (see :class:`SpeechEdges`).
    """

    def __init__(self, *, sample_rate: int | None = None, params: Any = None) -> None:
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)
        model = SileroOnnxModel.__new__(SileroOnnxModel)
        model.session = silero_session()
        model.sample_rates = [8000, 16000]
        model.reset_states()  # type: ignore[no-untyped-call]
        self._model = model
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self.edges = SpeechEdges(self._params.start_secs, self._params.stop_secs)
        self._run_voiced = False  # what Silero alone made of the latest windows
        self._run_windows = 0  # and for how many windows in a row
        self.voiced_windows = 0  # windows Silero scored as voice, ever (a change counter)

    async def analyze_audio(self, buffer: bytes) -> Any:
        """Analyse ``buffer`` inline (see the class docstring)."""
        return self._run_analyzer(buffer)

    def voice_confidence(self, buffer: bytes) -> Any:
        """Zero for a near-silent window, else Silero's confidence."""
        samples = np.frombuffer(buffer, dtype=np.int16)
        silent = samples.size and int(np.abs(samples.astype(np.int32)).max()) < SILENCE_PEAK
        confidence = 0.0 if silent else super().voice_confidence(buffer)
        voiced = bool(confidence >= self._params.confidence)
        if voiced is not self._run_voiced:
            self._run_voiced, self._run_windows = voiced, 0
        self._run_windows += 1
        self.voiced_windows += voiced
        return confidence

    @property
    def quiet_s(self) -> float:
        """How long Silero has heard no voice, up to the last window (0 while it hears one)."""
        if self._run_voiced:
            return 0.0
        return self._run_windows * (self._vad_frames_num_bytes // 2) / self.sample_rate

    def _run_analyzer(self, buffer: bytes) -> VADState:
        before = self._vad_state
        state: VADState = super()._run_analyzer(buffer)
        if state is VADState.SPEAKING and before in (VADState.QUIET, VADState.STARTING):
            self.edges.started_s = self._run_s(voiced=True, usual=self._params.start_secs)
        elif state is VADState.QUIET and before in (VADState.SPEAKING, VADState.STOPPING):
            self.edges.stopped_s = self._run_s(voiced=False, usual=self._params.stop_secs)
        return state

    def _run_s(self, *, voiced: bool, usual: float) -> float:
        """Seconds from the start of the current run (if it is ``voiced``) to the audio's end."""
        if self._run_voiced is not voiced:
            return usual
        window, pending = self._vad_frames_num_bytes // 2, len(self._vad_buffer) // 2
        seconds = (self._run_windows * window + pending) / self.sample_rate
        return min(seconds, usual + MAX_EDGE_EXTRA_S)


EARLY_MARGIN_S = 0.1
"""Smart Turn starts this long before the VAD would end the speech (see SharedSmartTurn)."""


class SharedSmartTurn(LocalSmartTurnAnalyzerV3):
    """Smart Turn v3 with its own audio buffer around the process's shared session.

    Given the call's VAD, it also starts its inference early. Pipecat asks for the verdict
    when the VAD reports the end of speech, ``stop_secs`` after the caller fell quiet, and
    the caller then waits for the inference (about 70 ms of CPU here, more on a busy
    host). Instead, once Silero has heard no voice for ``stop_secs`` minus
    :data:`EARLY_MARGIN_S`, the inference starts on the audio so far, the rest of the quiet
    padded with zeros; when the VAD reports the end, the verdict is ready or nearly so. If
    Silero hears voice again first, the early verdict is dropped and, should the end come
    later, the inference runs as usual.
    """

    def __init__(self, *, vad: SharedSileroVAD | None = None, **kwargs: Any) -> None:
        BaseSmartTurn.__init__(self, **kwargs)
        self._log_data = False
        self._session = smart_turn_session()
        self._vad = vad
        self._early: tuple[int, Future[Any]] | None = None  # (voiced windows then, verdict)
        self.early_used = 0  # early verdicts that answered the end of a turn
        self.early_dropped = 0  # and those dropped because the caller went on

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        """Buffer the audio (pipecat's way), starting or dropping an early verdict."""
        state: EndOfTurnState = super().append_audio(buffer, is_speech)
        vad = self._vad
        if vad is None or state is EndOfTurnState.COMPLETE or not is_speech:
            self._early = None
            return state
        if self._early is not None and self._early[0] != vad.voiced_windows:
            self._early = None  # voice again: that was a pause, not the end
            self.early_dropped += 1
        stop_s, quiet_s = vad.params.stop_secs, vad.quiet_s
        start = quiet_s > 0 and quiet_s >= stop_s - EARLY_MARGIN_S
        if start and self._early is None and self._audio_buffer:
            rest = np.zeros(round(max(0.0, stop_s - quiet_s) * self.sample_rate), np.int16)
            audio = [*self._audio_buffer, (time.monotonic(), rest)]
            verdict = self._model_executor.submit(self._process_speech_segment, audio)
            self._early = (vad.voiced_windows, verdict)
        return state

    async def analyze_end_of_turn(self) -> tuple[EndOfTurnState, MetricsData | None]:
        """The early verdict when it still holds, else pipecat's inference now."""
        early, self._early = self._early, None
        if early is None or self._vad is None or early[0] != self._vad.voiced_windows:
            return await super().analyze_end_of_turn()
        state, result = await asyncio.wrap_future(early[1])
        self.early_used += 1
        if state == EndOfTurnState.COMPLETE:
            self._clear(state)
        return state, result

    def clear(self) -> None:
        """Reset the analyzer, and forget any early verdict."""
        self._early = None
        super().clear()  # type: ignore[no-untyped-call]


def prewarm() -> None:
    """Create both sessions and run each once, so the first call pays for neither."""
    vad = SharedSileroVAD(sample_rate=8000)
    vad.set_sample_rate(8000)
    noise = np.random.default_rng(0).integers(-2000, 2000, 256, dtype=np.int16)
    vad.voice_confidence(noise.tobytes())
    turn = SharedSmartTurn()
    turn.set_sample_rate(8000)
    turn._predict_endpoint(noise.astype(np.float32) / 32768)  # also imports numpy.fft

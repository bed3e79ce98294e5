"""Silero VAD and Smart Turn v3 analyzers that share one ONNX session per process.

Pipecat's analyzers load their ONNX model each time one is built (tens of milliseconds and
several megabytes per call, never fully returned). A worker runs one call after another, so
the sessions (stateless and safe to share) are created once, ahead of the first call, and
every call's analyzers get their own per-stream state around them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import onnxruntime
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer


def _options(threads: int) -> onnxruntime.SessionOptions:
    """Session options for one call's worth of inference on a shared host.

    One thread that never spins (a spinning ONNX thread pool burns a core waiting for
    work, and a host runs many workers). No memory arena and no memory pattern: both keep
    the largest inference's buffers (about 35 MB for Smart Turn) for the life of the
    process; without them the buffers go back to the allocator, and
    :func:`ori_worker.memory.release_memory` back to the system, at no measurable CPU cost.
    """
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _model_path(package: str, name: str) -> str:
    return str(resources.files(package).joinpath(name))


@lru_cache(maxsize=1)
def silero_session() -> onnxruntime.InferenceSession:
    """The process's Silero VAD session (the model bundled with pipecat)."""
    path = _model_path("pipecat.audio.vad.data", "silero_vad.onnx")
    return onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"], sess_options=_options(1)
    )


@lru_cache(maxsize=1)
def smart_turn_session() -> onnxruntime.InferenceSession:
    """The process's Smart Turn v3 session (the model bundled with pipecat)."""
    path = _model_path("pipecat.audio.turn.smart_turn.data", "smart-turn-v3.2-cpu.onnx")
    return onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"], sess_options=_options(1)
    )


SILENCE_PEAK = 100
"""Peak sample value (about -50 dBFS) below which a window is silence without asking Silero."""


class SharedSileroVAD(SileroVADAnalyzer):
    """Silero VAD with its own recurrent state around the process's shared session.

    Two changes to save CPU on every 32 ms window, which dominate an idle call's cost: a
    window whose peak is below :data:`SILENCE_PEAK` scores zero without running the model
    (it could not pass the volume threshold anyway), and the analysis runs on the event
    loop (well under a millisecond) instead of a thread-pool round trip.
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

    async def analyze_audio(self, buffer: bytes) -> Any:
        """Analyse ``buffer`` inline (see the class docstring)."""
        return self._run_analyzer(buffer)

    def voice_confidence(self, buffer: bytes) -> Any:
        """Zero for a near-silent window, else Silero's confidence."""
        samples = np.frombuffer(buffer, dtype=np.int16)
        if samples.size and int(np.abs(samples.astype(np.int32)).max()) < SILENCE_PEAK:
            return 0.0
        return super().voice_confidence(buffer)


class SharedSmartTurn(LocalSmartTurnAnalyzerV3):
    """Smart Turn v3 with its own audio buffer around the process's shared session."""

    def __init__(self, **kwargs: Any) -> None:
        BaseSmartTurn.__init__(self, **kwargs)
        self._log_data = False
        self._session = smart_turn_session()


def prewarm() -> None:
    """Create both sessions and run each once, so the first call pays for neither."""
    vad = SharedSileroVAD(sample_rate=8000)
    vad.set_sample_rate(8000)
    noise = np.random.default_rng(0).integers(-2000, 2000, 256, dtype=np.int16)
    vad.voice_confidence(noise.tobytes())
    turn = SharedSmartTurn()
    turn.set_sample_rate(8000)
    turn._predict_endpoint(noise.astype(np.float32) / 32768)  # also imports numpy.fft

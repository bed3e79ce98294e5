"""``build_pipeline(cfg, transport, ...)``: the one speech pipeline every entry point runs.

Wiring only, no I/O: the transport's input, the caller's recording tap, STT, the user
aggregator (Silero VAD, turn detection, barge-in), a stop for the caller's audio (nothing
later needs it), the LLM with the bot's tools, TTS, the transport's output, the bot's
recording tap and the assistant aggregator, in that order, at the carrier's 8 kHz (LiveKit
calls: at ``AUDIO_SAMPLE_RATE``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_transport import BaseTransport
from pipecat.turns.user_start import (
    BaseUserTurnStartStrategy,
    MinWordsUserTurnStartStrategy,
    TranscriptionUserTurnStartStrategy,
    VADUserTurnStartStrategy,
)
from pipecat.turns.user_stop import (
    BaseUserTurnStopStrategy,
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies, UserTurnStrategies
from pipecat.utils.types import NOT_GIVEN

from ori_contracts import RuntimeConfig, TurnStrategy
from ori_worker.analyzers import SharedSileroVAD, SharedSmartTurn
from ori_worker.call_record import CallClock, CallRecorder, StageNames
from ori_worker.observers import CallObservers
from ori_worker.providers.factory import ProviderKeys, make_llm, make_stt, make_tts
from ori_worker.recording import AudioLag, BotTap, CallerAudioStop, CallerTap, StereoTimeline
from ori_worker.tools import ToolContext, register_tools

PIPELINE_SAMPLE_RATE_HZ = 8000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


@dataclass
class CallPipeline:
    """A built pipeline and the parts the call needs to reach while it runs."""

    worker: PipelineWorker
    context: LLMContext
    stt: STTService
    llm: LLMService[Any]
    tts: TTSService
    user_aggregator: LLMUserAggregator
    recorder: CallRecorder
    timeline: StereoTimeline | None
    stage_names: StageNames

    def start_clock(self) -> float:
        """The call's zero (monotonic): transcript offsets and the recording both start here.

        Taken when the pipeline is about to run, not when it was built: building it (models
        loaded, services made) can take a while on a busy host, and a recording that started
        earlier would put every word later than the transcript says.
        """
        t0 = time.monotonic()
        if self.timeline is not None:
            self.timeline.start(t0)
        return t0


def render_prompt(template: str, cfg: RuntimeConfig) -> str:
    """Fill ``{contact.name}``-style placeholders from the call; unknown ones stay as they are."""
    values: dict[str, Any] = {"contact": cfg.contact.model_dump() if cfg.contact else {}}

    def lookup(match: re.Match[str]) -> str:
        node: Any = values
        for part in match.group(1).split("."):
            if not isinstance(node, dict) or part not in node or node[part] is None:
                return match.group(0)
            node = node[part]
        return str(node)

    return _PLACEHOLDER.sub(lookup, template)


def turn_strategies(cfg: RuntimeConfig, vad: SharedSileroVAD | None = None) -> UserTurnStrategies:
    """The user-turn start (barge-in) and stop (end of turn) strategies for ``cfg.turn``.

    With the call's ``vad``, Smart Turn starts its inference early (see SharedSmartTurn).
    """
    turn = cfg.turn
    if turn.strategy is TurnStrategy.PROVIDER:
        return ExternalUserTurnStrategies(enable_interruptions=turn.allow_interruptions)
    interrupts = turn.allow_interruptions
    start: list[BaseUserTurnStartStrategy]
    if turn.min_interruption_words > 0:
        start = [
            MinWordsUserTurnStartStrategy(
                min_words=turn.min_interruption_words, enable_interruptions=interrupts
            )
        ]
    else:
        start = [
            VADUserTurnStartStrategy(enable_interruptions=interrupts),
            TranscriptionUserTurnStartStrategy(enable_interruptions=interrupts),
        ]
    stop: list[BaseUserTurnStopStrategy]
    if turn.strategy is TurnStrategy.VAD_ONLY:
        stop = [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=turn.speech_timeout_s)]
    else:
        analyzer = SharedSmartTurn(
            vad=vad,
            params=SmartTurnParams(
                stop_secs=turn.stop_s,
                pre_speech_ms=turn.pre_speech_ms,
                max_duration_secs=turn.max_duration_s,
            ),
        )
        stop = [TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer)]
    return UserTurnStrategies(start=start, stop=stop)


@dataclass
class PipelineDeps:
    """What the builder needs besides the config and the transport."""

    keys: ProviderKeys
    tools: ToolContext
    recording_path: Path | None
    enable_tracing: bool = False
    sample_rate_hz: int = PIPELINE_SAMPLE_RATE_HZ


def build_pipeline(
    cfg: RuntimeConfig, transport: BaseTransport, deps: PipelineDeps
) -> CallPipeline:
    """Wire the call's pipeline (see the module docstring); nothing runs yet.

    Raises:
        ori_worker.providers.factory.ProviderUnavailable: A provider cannot run here.
        ori_worker.providers.pocketsphinx_stt.GrammarError: The STT phrases are unusable.
    """
    language = cfg.stt.language or cfg.persona.language
    system_prompt = render_prompt(cfg.persona.system_prompt, cfg)
    stt = make_stt(cfg.stt, language, deps.keys)
    llm = make_llm(cfg, deps.keys)
    tts = make_tts(cfg.tts, deps.keys)
    schemas = register_tools(llm, deps.tools)
    context = LLMContext(
        messages=[{"role": "system", "content": system_prompt}],
        tools=list[FunctionSchema | Any](schemas) if schemas else NOT_GIVEN,
    )
    vad = SharedSileroVAD(
        params=VADParams(
            confidence=cfg.vad.confidence,
            start_secs=cfg.vad.start_s,
            stop_secs=cfg.vad.stop_s,
            min_volume=cfg.vad.min_volume,
        )
    )
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad, user_turn_strategies=turn_strategies(cfg, vad)
        ),
    )
    lag = AudioLag()
    clock = CallClock()
    recorder = CallRecorder(edges=vad.edges, lag=lag, clock=clock)
    user, assistant = aggregators.user(), aggregators.assistant()
    user.add_event_handler("on_user_turn_stopped", recorder.on_user_turn_stopped)
    timeline = (
        StereoTimeline(deps.recording_path, deps.sample_rate_hz)
        if deps.recording_path is not None
        else None
    )
    processors: list[Any] = [transport.input(), CallerTap(timeline)]
    processors += [stt, user, CallerAudioStop(lag), llm, tts, transport.output()]
    if timeline is not None:
        processors.append(BotTap(timeline))
    processors.append(assistant)
    latency = UserBotLatencyObserver()
    latency.add_event_handler("on_latency_measured", recorder.on_latency_measured)
    latency.add_event_handler("on_latency_breakdown", recorder.on_latency_breakdown)
    worker = PipelineWorker(
        Pipeline(processors),
        params=PipelineParams(
            audio_in_sample_rate=deps.sample_rate_hz,
            audio_out_sample_rate=deps.sample_rate_hz,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
        # One observer queue for both, spared the caller's audio (see ori_worker.observers).
        observers=[CallObservers([recorder, latency])],
        clock=clock,
        idle_timeout_secs=None,
        enable_rtvi=False,
        enable_tracing=deps.enable_tracing,
        # Turn tracking (one more observer on every frame) only feeds the turn spans.
        enable_turn_tracking=deps.enable_tracing,
        conversation_id=cfg.call_id,
        additional_span_attributes={"call_id": cfg.call_id, "bot_id": cfg.bot_id},
    )
    names = StageNames(stt=type(stt).__name__, llm=type(llm).__name__, tts=type(tts).__name__)
    return CallPipeline(worker, context, stt, llm, tts, user, recorder, timeline, names)

"""What happened during a call, as it happened: speech, turns, tools, latency and usage.

:class:`CallRecorder` is a pipecat observer plus handlers for the context aggregators'
turn events. It only appends timestamped :class:`Event`s; :func:`build_transcript` and
:func:`build_latency` turn them into the contract's transcript and latency afterwards, as
pure functions (unit-tested without a pipeline). Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pipecat.clocks.base_clock import BaseClock
from pipecat.frames.frames import (
    AggregatedTextFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import (
    LLMUsageMetricsData,
    ProcessingMetricsData,
    STTUsageMetricsData,
    TTFBMetricsData,
    TTSUsageMetricsData,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection

from ori_contracts import LatencyStats, TranscriptRole, TranscriptTurn, TurnLatency
from ori_worker.analyzers import SpeechEdges
from ori_worker.recording import AudioLag

log = logging.getLogger(__name__)


class Kind(StrEnum):
    """What an event records."""

    USER_SPEECH_START = "user_speech_start"
    USER_SPEECH_STOP = "user_speech_stop"
    TRANSCRIPT = "transcript"
    USER_TURN = "user_turn"
    BOT_START = "bot_start"
    BOT_STOP = "bot_stop"
    TOOL_START = "tool_start"
    TOOL_RESULT = "tool_result"
    INTERRUPTION = "interruption"
    LATENCY = "latency"
    TTFB = "ttfb"
    BOT_TEXT = "bot_text"


@dataclass(frozen=True)
class Event:
    """One thing that happened, at monotonic time ``at``."""

    at: float
    kind: Kind
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Usage:
    """Metered quantities, summed over the call."""

    stt_audio_s: float = 0.0
    tts_characters: int = 0
    llm_input_tokens: int = 0
    llm_output_tokens: int = 0
    llm_cached_tokens: int = 0


class CallClock(BaseClock):
    """The pipeline's clock, able to say when (``time.monotonic()``) a push happened.

    Pipecat stamps every push with this clock, and hands it to observers through a queue
    that may run well behind the pipeline on a busy host. Events are dated by their stamp,
    not by when the observer got round to them.
    """

    def __init__(self) -> None:
        self.started_ns = 0

    def start(self) -> None:
        """Start counting (the pipeline worker calls this)."""
        self.started_ns = time.monotonic_ns()

    def get_time(self) -> int:
        """Nanoseconds since the start (0 before it)."""
        return time.monotonic_ns() - self.started_ns if self.started_ns else 0

    def monotonic(self, stamp_ns: int) -> float | None:
        """A stamp of this clock as ``time.monotonic()`` seconds (None if it is no stamp)."""
        if not self.started_ns or stamp_ns <= 0:
            return None
        return (self.started_ns + stamp_ns) / 1e9


@dataclass(eq=False)
class CallRecorder(BaseObserver):
    """Collects a call's events; attach it as a pipeline observer and to the aggregators."""

    edges: SpeechEdges = field(default_factory=SpeechEdges)
    lag: AudioLag = field(default_factory=AudioLag)
    clock: CallClock = field(default_factory=CallClock)
    events: list[Event] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    ttfb_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    processing_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        BaseObserver.__init__(self, observe_every_push=False)

    def add(self, kind: Kind, at: float | None = None, **data: Any) -> None:
        """Record an event now (or at ``at``)."""
        self.events.append(Event(time.monotonic() if at is None else at, kind, data))

    async def on_push_frame(self, data: FramePushed) -> None:
        """Record the frames that mark speech, turns, tools and metrics."""
        frame = data.frame
        if data.direction is not FrameDirection.DOWNSTREAM:
            return
        pushed = self.clock.monotonic(data.timestamp)
        now = time.monotonic() if pushed is None else pushed
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self.add(Kind.USER_SPEECH_START, now - self.lag.seconds - self.edges.started_s)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self.add(Kind.USER_SPEECH_STOP, now - self.lag.seconds - self.edges.stopped_s)
        elif isinstance(frame, TranscriptionFrame):
            self.add(Kind.TRANSCRIPT, now, text=frame.text)
        elif (
            isinstance(frame, AggregatedTextFrame)
            and not isinstance(frame, TTSTextFrame)
            and frame.will_be_spoken
        ):
            self.add(Kind.BOT_TEXT, now, text=frame.text)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self.add(Kind.BOT_START, now)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self.add(Kind.BOT_STOP, now)
        elif isinstance(frame, InterruptionFrame):
            self.add(Kind.INTERRUPTION, now)
        elif isinstance(frame, FunctionCallInProgressFrame):
            self.add(
                Kind.TOOL_START,
                now,
                id=frame.tool_call_id,
                name=frame.function_name,
                arguments=dict(frame.arguments or {}),
            )
        elif isinstance(frame, FunctionCallResultFrame):
            self.add(Kind.TOOL_RESULT, now, id=frame.tool_call_id, result=frame.result)
        elif isinstance(frame, MetricsFrame):
            self._metrics(frame)

    def _metrics(self, frame: MetricsFrame) -> None:
        for item in frame.data:
            if isinstance(item, TTFBMetricsData) and item.value > 0:
                self.ttfb_s[item.processor].append(item.value)
                self.add(Kind.TTFB, processor=item.processor, value_s=item.value)
            elif isinstance(item, ProcessingMetricsData) and item.value > 0:
                self.processing_s[item.processor].append(item.value)
            elif isinstance(item, STTUsageMetricsData):
                self.usage.stt_audio_s += item.value.audio_seconds
            elif isinstance(item, TTSUsageMetricsData):
                self.usage.tts_characters += item.value
            elif isinstance(item, LLMUsageMetricsData):
                self.usage.llm_input_tokens += item.value.prompt_tokens
                self.usage.llm_output_tokens += item.value.completion_tokens
                self.usage.llm_cached_tokens += item.value.cache_read_input_tokens or 0

    async def on_user_turn_stopped(
        self, _aggregator: object, _strategy: object, message: Any
    ) -> None:
        """Aggregator handler: the user's turn, with its aggregated transcript."""
        self.add(Kind.USER_TURN, text=(getattr(message, "content", None) or "").strip())

    async def on_latency_breakdown(self, _observer: object, breakdown: Any) -> None:
        """Latency-observer handler: where a reply's time went (logged at DEBUG)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("turn latency:\n%s", "\n".join(breakdown.turn_contribution_lines()))

    async def on_latency_measured(self, _observer: object, latency_s: float) -> None:
        """Latency-observer handler: user stopped speaking -> bot started speaking."""
        self.add(Kind.LATENCY, latency_s=latency_s)

    # ------------------------------------------------------------------ queries

    def last(self, kind: Kind) -> Event | None:
        """The most recent event of ``kind``."""
        return next((e for e in reversed(self.events) if e.kind is kind), None)

    @property
    def bot_speaking(self) -> bool:
        """Whether the bot is speaking now."""
        start, stop = self.last(Kind.BOT_START), self.last(Kind.BOT_STOP)
        return start is not None and (stop is None or stop.at < start.at)

    @property
    def user_speaking(self) -> bool:
        """Whether the caller is speaking now (VAD)."""
        start, stop = self.last(Kind.USER_SPEECH_START), self.last(Kind.USER_SPEECH_STOP)
        return start is not None and (stop is None or stop.at < start.at)


# ---------------------------------------------------------------------- pure builders


def _ms(at: float, t0: float) -> int:
    return max(0, round((at - t0) * 1000))


def _span(
    events: list[Event], kinds: tuple[Kind, Kind], after: float, until: float
) -> tuple[float, float] | None:
    """First ``kinds[0]`` and last ``kinds[1]`` event in (after, until]."""
    starts = [e.at for e in events if e.kind is kinds[0] and after < e.at <= until]
    stops = [e.at for e in events if e.kind is kinds[1] and after < e.at <= until]
    if not starts:
        return None
    return starts[0], max([*stops, starts[0]])


def build_transcript(events: list[Event], t0: float, end: float) -> list[TranscriptTurn]:
    """The conversation in order: user and bot turns with their spoken spans, and tool calls.

    User turns are the aggregator's turns, spanning the caller's speech since the previous
    turn. Bot turns are the spans the bot was heard speaking (joined across pauses shorter
    than :data:`BOT_PAUSE_S` with no caller speech between), with the sentences the TTS
    announced as it started each one; a span the caller talked over is ``interrupted``.

    Args:
        events: The recorder's events, in time order.
        t0: When the call was answered (offsets are from here).
        end: When the call ended.

    Returns:
        Turns sorted by start; turns without words are left out.
    """
    turns = _user_turns(events, t0) + _bot_turns(events, t0, end) + _tool_turns(events, t0, end)
    return sorted(turns, key=lambda t: (t.started_at_ms, t.role != TranscriptRole.USER))


BOT_PAUSE_S = 0.6


def _user_turns(events: list[Event], t0: float) -> list[TranscriptTurn]:
    turns, previous = [], t0 - 3600.0
    kinds = (Kind.USER_SPEECH_START, Kind.USER_SPEECH_STOP)
    for event in (e for e in events if e.kind is Kind.USER_TURN):
        span = _span(events, kinds, previous, event.at)
        previous = event.at
        text = event.data.get("text", "")
        if not text:
            continue
        start, stop = span if span else (event.at, event.at)
        turns.append(
            TranscriptTurn(
                role=TranscriptRole.USER,
                text=text,
                started_at_ms=_ms(start, t0),
                ended_at_ms=_ms(max(stop, start), t0),
            )
        )
    return turns


def _bot_spans(events: list[Event], end: float) -> list[list[float]]:
    spans: list[list[float]] = []
    for event in events:
        if event.kind is Kind.BOT_START:
            last = spans[-1] if spans else None
            caller_between = last is not None and any(
                e.kind is Kind.USER_SPEECH_START and last[1] <= e.at <= event.at for e in events
            )
            if last is not None and event.at - last[1] < BOT_PAUSE_S and not caller_between:
                last[1] = end  # still speaking: joined to the previous span
            else:
                spans.append([event.at, end])
        elif event.kind is Kind.BOT_STOP and spans:
            spans[-1][1] = event.at
    return spans


def _bot_turns(events: list[Event], t0: float, end: float) -> list[TranscriptTurn]:
    turns = []
    texts = [e for e in events if e.kind is Kind.BOT_TEXT]
    for start, stop in _bot_spans(events, end):
        said = [e.data["text"].strip() for e in texts if start - 0.3 <= e.at <= stop]
        text = " ".join(t for t in said if t)
        if not text:
            continue
        interrupted = any(
            e.kind is Kind.INTERRUPTION and start < e.at <= stop + 0.05 for e in events
        )
        turns.append(
            TranscriptTurn(
                role=TranscriptRole.ASSISTANT,
                text=text,
                started_at_ms=_ms(start, t0),
                ended_at_ms=_ms(max(stop, start), t0),
                interrupted=interrupted,
            )
        )
    return turns


def _tool_turns(events: list[Event], t0: float, end: float) -> list[TranscriptTurn]:
    results = {e.data["id"]: e for e in events if e.kind is Kind.TOOL_RESULT}
    turns = []
    for start in (e for e in events if e.kind is Kind.TOOL_START):
        result = results.get(start.data["id"])
        turns.append(
            TranscriptTurn(
                role=TranscriptRole.TOOL,
                text="",
                started_at_ms=_ms(start.at, t0),
                ended_at_ms=_ms(result.at if result else end, t0),
                tool_name=start.data["name"],
                tool_arguments=start.data["arguments"],
                tool_result=_jsonable(result.data["result"]) if result else None,
            )
        )
    return turns


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class StageNames:
    """The processor-name prefixes of the call's STT, LLM and TTS services."""

    stt: str
    llm: str
    tts: str


def build_latency(
    events: list[Event], transcript: list[TranscriptTurn], t0: float, names: StageNames
) -> LatencyStats:
    """Per-turn latency: each measured reply matched to the bot turn it started.

    ``total_ms`` comes from pipecat's user-bot latency observer; ``stt_ms`` is the user's
    speech end to the final transcript; the LLM and TTS figures are those services' own
    time to first byte reported between the user's speech end and the bot's reply.
    """
    bot_turns = [(i, t) for i, t in enumerate(transcript) if t.role is TranscriptRole.ASSISTANT]
    turns: list[TurnLatency] = []
    used: set[int] = set()
    for measure in (e for e in events if e.kind is Kind.LATENCY):
        started_ms = _ms(measure.at, t0)
        match = next(
            (i for i, t in bot_turns if i not in used and abs(t.started_at_ms - started_ms) <= 300),
            None,
        )
        if match is None:
            continue
        used.add(match)
        stop = _before(events, Kind.USER_SPEECH_STOP, measure.at)
        since = stop.at if stop else measure.at - measure.data["latency_s"]
        window = [e for e in events if since <= e.at <= measure.at + 0.05]
        heard = next((e for e in window if e.kind is Kind.TRANSCRIPT), None)
        turns.append(
            TurnLatency(
                turn_index=match,
                stt_ms=_ms(heard.at, since) if heard else None,
                llm_ttfb_ms=_ttfb_ms(window, names.llm),
                tts_ttfb_ms=_ttfb_ms(window, names.tts),
                total_ms=max(0, round(measure.data["latency_s"] * 1000)),
            )
        )
    return LatencyStats.from_turns(turns)


def _ttfb_ms(window: list[Event], prefix: str) -> int | None:
    found = next(
        (e for e in window if e.kind is Kind.TTFB and e.data["processor"].startswith(prefix)),
        None,
    )
    return round(found.data["value_s"] * 1000) if found else None


def _before(events: list[Event], kind: Kind, at: float) -> Event | None:
    return next((e for e in reversed(events) if e.kind is kind and e.at <= at), None)

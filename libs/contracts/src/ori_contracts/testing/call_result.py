"""`make_call_result`: the result of the demo call, an appointment booked."""

from datetime import UTC, datetime
from typing import Any

from ori_contracts.call_metrics import LatencyStats, ProviderUsage, TurnLatency, UsageUnit
from ori_contracts.call_result import (
    CallAnalysis,
    CallOutcome,
    CallResult,
    CallTimings,
    DispositionSource,
    EndedBy,
    QcFinding,
    RecordingRef,
    Sentiment,
    TranscriptRole,
    TranscriptTurn,
)
from ori_contracts.post_call import QcSeverity
from ori_contracts.providers import ProviderKind, SttProvider, TelephonyProvider, TtsProvider
from ori_contracts.runtime_config import CallDirection, RecordingChannels, RecordingFormat
from ori_contracts.testing.demo import (
    DEMO_BOT_ID,
    DEMO_CALL_ID,
    DEMO_CAMPAIGN_ID,
    DEMO_CLINIC_NUMBER,
    DEMO_CONTACT_ID,
    DEMO_CONTACT_NUMBER,
    DEMO_WORKER_ID,
    DEMO_WORKSPACE_ID,
)
from ori_contracts.testing.demo import DEMO_CLINIC as _CLINIC

__all__ = ["make_call_result"]


def make_call_result(**overrides: Any) -> CallResult:
    """Return a valid `CallResult` of a completed demo call, with `overrides` applied.

    The call matches `make_runtime_config()`: same ids, an appointment booked, then goodbye.

    Args:
        **overrides: Top-level fields to replace (models or plain dicts).

    Returns:
        The validated result.
    """
    fields: dict[str, Any] = {
        "call_id": DEMO_CALL_ID,
        "bot_id": DEMO_BOT_ID,
        "bot_version": 3,
        "workspace_id": DEMO_WORKSPACE_ID,
        "campaign_id": DEMO_CAMPAIGN_ID,
        "contact_id": DEMO_CONTACT_ID,
        "worker_id": DEMO_WORKER_ID,
        "direction": CallDirection.OUTBOUND,
        "telephony_provider": TelephonyProvider.WEBSOCKET,
        "from_number": DEMO_CLINIC_NUMBER,
        "to_number": DEMO_CONTACT_NUMBER,
        "timings": _timings(),
        "outcome": CallOutcome.COMPLETED,
        "ended_by": EndedBy.BOT,
        "transcript": _transcript(),
        "recording": _recording(),
        "analysis": _analysis(),
        "qc_findings": _qc_findings(),
        "disposition": "appointment_booked",
        "disposition_source": DispositionSource.CLASSIFIER,
        "usage": _usage(),
        "latency": LatencyStats.from_turns(
            [
                TurnLatency(turn_index=2, stt_ms=310, llm_ttfb_ms=4, tts_ttfb_ms=120, total_ms=640),
                TurnLatency(turn_index=4, stt_ms=300, llm_ttfb_ms=3, tts_ttfb_ms=118, total_ms=600),
                TurnLatency(turn_index=6, stt_ms=290, llm_ttfb_ms=3, tts_ttfb_ms=110, total_ms=980),
                TurnLatency(turn_index=9, stt_ms=280, llm_ttfb_ms=3, tts_ttfb_ms=115, total_ms=560),
            ]
        ),
    }
    return CallResult.model_validate({**fields, **overrides})


def _timings() -> CallTimings:
    return CallTimings(
        created_at=datetime(2026, 3, 2, 16, 59, 58, tzinfo=UTC),
        started_at=datetime(2026, 3, 2, 17, 0, 0, tzinfo=UTC),
        answered_at=datetime(2026, 3, 2, 17, 0, 6, tzinfo=UTC),
        ended_at=datetime(2026, 3, 2, 17, 0, 40, tzinfo=UTC),
    )


def _turn(
    role: TranscriptRole, text: str, span_ms: tuple[int, int], **extra: Any
) -> TranscriptTurn:
    start_ms, end_ms = span_ms
    return TranscriptTurn(role=role, text=text, started_at_ms=start_ms, ended_at_ms=end_ms, **extra)


def _transcript() -> list[TranscriptTurn]:
    user, bot, tool = TranscriptRole.USER, TranscriptRole.ASSISTANT, TranscriptRole.TOOL
    booking = {"slot": "2026-03-10T10:00:00-07:00", "reason": "cleaning"}
    return [
        _turn(
            bot,
            f"Hi, this is Ava from {_CLINIC}. Would you like to book your next visit?",
            (300, 4200),
        ),
        _turn(user, "Yes, I'd like to book a cleaning appointment.", (5000, 7600)),
        _turn(
            bot,
            "I can book that for you. Does Tuesday at 10 AM work?",
            (8240, 10100),
            interrupted=True,
        ),
        _turn(user, "Sorry, is that in the morning?", (9900, 11500)),
        _turn(bot, "Yes, ten in the morning. Does that work?", (12100, 14300)),
        _turn(user, "Yes, Tuesday works.", (15000, 16200)),
        _turn(bot, "Great, you're booked for Tuesday at 10 AM. Anything else?", (17180, 21000)),
        _turn(
            tool,
            "",
            (21000, 21450),
            tool_name="book_appointment",
            tool_arguments=booking,
            tool_result={"status": "booked", "confirmation": "BSD-20260310-1000"},
        ),
        _turn(user, "No, that's all. Goodbye.", (27500, 29500)),
        _turn(bot, f"Thanks for calling {_CLINIC}. Goodbye!", (30060, 33000)),
        _turn(tool, "", (33000, 33020), tool_name="end_call", tool_arguments={}, tool_result="ok"),
    ]


def _recording() -> RecordingRef:
    return RecordingRef(
        bucket="recordings",
        object_key=f"{DEMO_WORKSPACE_ID}/2026/03/02/{DEMO_CALL_ID}.wav",
        format=RecordingFormat.WAV,
        channels=RecordingChannels.STEREO,
        sample_rate_hz=16000,
        duration_ms=34000,
        size_bytes=2176044,
    )


def _analysis() -> CallAnalysis:
    return CallAnalysis(
        summary="Jordan booked a cleaning for Tuesday 10 March at 10 AM.",
        extracted={
            "appointment_booked": True,
            "appointment_slot": "2026-03-10T10:00:00-07:00",
            "visit_reason": "cleaning",
            "callback_in_days": None,
            "questions_asked": ["Could I ask something first?"],
        },
        sentiment=Sentiment.POSITIVE,
    )


def _qc_findings() -> list[QcFinding]:
    return [
        QcFinding(
            rule_id="states-clinic-name",
            passed=True,
            severity=QcSeverity.CRITICAL,
            evidence=f"Bot said: 'Hi, this is Ava from {_CLINIC}.'",
            turn_index=0,
        ),
        QcFinding(rule_id="no-medical-advice", passed=True, severity=QcSeverity.CRITICAL),
        QcFinding(
            rule_id="polite",
            passed=True,
            severity=QcSeverity.INFO,
            evidence="Friendly tone throughout; no pressure to book.",
        ),
        QcFinding(
            rule_id="no-dead-air",
            passed=False,
            severity=QcSeverity.WARNING,
            evidence="6.5 s of silence after the bot asked 'Anything else?'.",
            turn_index=6,
        ),
    ]


def _usage() -> list[ProviderUsage]:
    return [
        ProviderUsage(
            kind=ProviderKind.STT,
            provider=SttProvider.POCKETSPHINX,
            model="en-us",
            unit=UsageUnit.AUDIO_SECONDS,
            quantity=34.0,
            cost_usd=0.0,
        ),
        ProviderUsage(
            kind=ProviderKind.TTS,
            provider=TtsProvider.ESPEAK,
            unit=UsageUnit.CHARACTERS,
            quantity=278.0,
            cost_usd=0.0,
        ),
        ProviderUsage(
            kind=ProviderKind.TELEPHONY,
            provider=TelephonyProvider.WEBSOCKET,
            unit=UsageUnit.CALL_SECONDS,
            quantity=40.0,
            cost_usd=0.0,
        ),
    ]

from __future__ import annotations

import pytest

from ori_contracts import TranscriptRole
from ori_worker.call_record import Event, Kind, StageNames, build_latency, build_transcript

pytestmark = pytest.mark.unit

T0 = 100.0


def ev(at: float, kind: Kind, **data: object) -> Event:
    return Event(T0 + at, kind, dict(data))


EVENTS = [
    ev(0.05, Kind.BOT_TEXT, text="Hello,"),
    ev(0.1, Kind.BOT_START),
    ev(1.0, Kind.BOT_TEXT, text="how can I help?"),
    ev(1.2, Kind.BOT_STOP),
    ev(1.3, Kind.BOT_START),  # a short pause: the same turn
    ev(3.0, Kind.BOT_STOP),
    ev(4.0, Kind.USER_SPEECH_START),
    ev(5.5, Kind.USER_SPEECH_STOP),
    ev(5.8, Kind.TRANSCRIPT, text="book please"),
    ev(6.3, Kind.USER_TURN, text="book please"),
    ev(6.31, Kind.TTFB, processor="ScriptedLLMService#0", value_s=0.002),
    ev(6.33, Kind.TTFB, processor="EspeakTTSService#0", value_s=0.02),
    ev(6.34, Kind.BOT_TEXT, text="Booking now."),
    ev(6.35, Kind.BOT_START),
    ev(6.35, Kind.LATENCY, latency_s=0.85),
    ev(6.9, Kind.USER_SPEECH_START),
    ev(6.92, Kind.INTERRUPTION),
    ev(6.95, Kind.BOT_STOP),
    ev(7.5, Kind.USER_SPEECH_STOP),
    ev(8.1, Kind.USER_TURN, text=""),
    ev(9.0, Kind.TOOL_START, id="c1", name="end_call", arguments={}),
    ev(9.01, Kind.TOOL_RESULT, id="c1", result={"status": "ending"}),
]


def test_the_transcript_orders_turns_by_their_spoken_spans() -> None:
    turns = build_transcript(EVENTS, T0, T0 + 10)
    assert [(t.role, t.text) for t in turns] == [
        (TranscriptRole.ASSISTANT, "Hello, how can I help?"),
        (TranscriptRole.USER, "book please"),
        (TranscriptRole.ASSISTANT, "Booking now."),
        (TranscriptRole.TOOL, ""),
    ]
    greeting, user, reply, tool = turns
    assert (greeting.started_at_ms, greeting.ended_at_ms) == (100, 3000)
    assert (user.started_at_ms, user.ended_at_ms) == (4000, 5500)
    assert (reply.started_at_ms, reply.ended_at_ms, reply.interrupted) == (6350, 6950, True)
    assert tool.tool_name == "end_call" and tool.tool_result == {"status": "ending"}


def test_a_user_turn_without_words_is_left_out() -> None:
    turns = build_transcript(EVENTS, T0, T0 + 10)
    assert sum(t.role is TranscriptRole.USER for t in turns) == 1


def test_latency_is_matched_to_the_reply_it_measured() -> None:
    turns = build_transcript(EVENTS, T0, T0 + 10)
    names = StageNames(
        stt="PocketSphinxSTTService", llm="ScriptedLLMService", tts="EspeakTTSService"
    )
    stats = build_latency(EVENTS, turns, T0, names)
    (latency,) = stats.turns
    assert latency.turn_index == 2
    assert latency.total_ms == 850
    assert latency.stt_ms == 300
    assert (latency.llm_ttfb_ms, latency.tts_ttfb_ms) == (2, 20)
    assert stats.total_p50_ms == stats.total_p95_ms == 850

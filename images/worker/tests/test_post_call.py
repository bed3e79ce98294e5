from __future__ import annotations

from typing import Any

import pytest

from ori_contracts import (
    CallOutcome,
    DispositionSource,
    QcRule,
    QcRuleKind,
    Sentiment,
    TranscriptRole,
    TranscriptTurn,
)
from ori_contracts.testing import make_runtime_config
from ori_worker import post_call

pytestmark = pytest.mark.unit

CFG = make_runtime_config()


def turn(role: TranscriptRole, text: str, start: int, end: int, **extra: Any) -> TranscriptTurn:
    return TranscriptTurn(role=role, text=text, started_at_ms=start, ended_at_ms=end, **extra)


BOOKED = [
    turn(TranscriptRole.ASSISTANT, "Hi, this is Ava from Bright Smile Dental.", 0, 3000),
    turn(TranscriptRole.USER, "yes I want to book a cleaning, is that ok?", 3500, 6000),
    turn(TranscriptRole.ASSISTANT, "Great, you're booked.", 6800, 8000),
    turn(
        TranscriptRole.TOOL,
        "",
        8000,
        8100,
        tool_name="book_appointment",
        tool_arguments={"slot": "2026-03-10T10:00", "reason": "cleaning"},
        tool_result={"status": "booked"},
    ),
    turn(TranscriptRole.USER, "thanks goodbye", 14500, 15000),
]


def test_offline_analysis_fills_fields_from_tool_arguments_and_words() -> None:
    analysis = post_call.analyse_offline(CFG, post_call.Conversation(BOOKED))
    assert analysis.extracted["appointment_booked"] is True
    assert analysis.extracted["appointment_slot"] == "2026-03-10T10:00"
    assert analysis.extracted["visit_reason"] == "cleaning"
    assert analysis.extracted["questions_asked"] == ["yes I want to book a cleaning, is that ok?"]
    assert analysis.sentiment is Sentiment.POSITIVE
    assert "book_appointment" in (analysis.summary or "")


def test_a_failed_tool_call_does_not_count_as_done() -> None:
    failed = [*BOOKED[:3], BOOKED[3].model_copy(update={"tool_result": {"error": "HTTP 500"}})]
    analysis = post_call.analyse_offline(CFG, post_call.Conversation(failed))
    assert analysis.extracted["appointment_booked"] is False
    assert analysis.extracted["appointment_slot"] is None


def test_qc_checks_phrases_and_silence_and_skips_llm_rules_without_a_judge() -> None:
    findings = {f.rule_id: f for f in post_call.check_qc(CFG, BOOKED)}
    assert set(findings) == {"states-clinic-name", "no-medical-advice", "no-dead-air"}
    assert findings["states-clinic-name"].passed and findings["states-clinic-name"].turn_index == 0
    assert findings["no-medical-advice"].passed
    dead_air = findings["no-dead-air"]
    assert not dead_air.passed and dead_air.turn_index == 2  # the tool turn is not speech
    assert "6.5 s" in (dead_air.evidence or "")


def test_must_not_say_fails_on_the_turn_that_said_it() -> None:
    rule = QcRule(id="r", description="d", kind=QcRuleKind.MUST_NOT_SAY, phrases=["Antibiotic"])
    cfg = make_runtime_config(qc_rules=[rule])
    turns = [turn(TranscriptRole.ASSISTANT, "Take an antibiotic.", 0, 10)]
    (finding,) = post_call.check_qc(cfg, turns)
    assert not finding.passed and finding.turn_index == 0


def test_llm_judgements_are_reported_when_given() -> None:
    judged = {"polite": (False, "It pressured the caller.")}
    polite = next(f for f in post_call.check_qc(CFG, BOOKED, judged) if f.rule_id == "polite")
    assert not polite.passed and polite.evidence == "It pressured the caller."


def test_longest_silence_ignores_tool_turns_and_overlaps() -> None:
    turns = [
        turn(TranscriptRole.ASSISTANT, "a", 0, 5000),
        turn(TranscriptRole.USER, "b", 4000, 4500),
        turn(TranscriptRole.USER, "c", 6000, 7000),
    ]
    assert post_call.longest_silence(turns) == (1000, 0)


@pytest.mark.parametrize(
    ("tool_code", "outcome", "expected"),
    [
        (
            "callback_requested",
            CallOutcome.COMPLETED,
            ("callback_requested", DispositionSource.TOOL),
        ),
        (None, CallOutcome.COMPLETED, ("appointment_booked", DispositionSource.CLASSIFIER)),
        ("not-a-code", CallOutcome.COMPLETED, ("appointment_booked", DispositionSource.CLASSIFIER)),
    ],
)
def test_disposition_prefers_a_tool_then_classifies(
    tool_code: str | None, outcome: CallOutcome, expected: tuple[str, DispositionSource]
) -> None:
    got = post_call.settle_disposition(CFG, outcome, post_call.Conversation(BOOKED), tool_code)
    assert got == expected


def test_disposition_falls_back_to_the_default_when_nothing_matches() -> None:
    quiet = post_call.Conversation([turn(TranscriptRole.USER, "hello", 0, 10)])
    got = post_call.settle_disposition(CFG, CallOutcome.COMPLETED, quiet, None)
    assert got == ("no_decision", DispositionSource.DEFAULT)


def test_no_dispositions_configured_means_none() -> None:
    cfg = make_runtime_config(dispositions=[], default_disposition=None)
    got = post_call.settle_disposition(
        cfg, CallOutcome.COMPLETED, post_call.Conversation(BOOKED), None
    )
    assert got == (None, None)


def test_llm_analysis_is_kept_only_where_it_fits_the_schema() -> None:
    fallback = post_call.analyse_offline(CFG, post_call.Conversation(BOOKED))
    merged = post_call.merge_llm_analysis(
        CFG,
        {
            "summary": "Booked a cleaning.",
            "sentiment": "negative",
            "extracted": {"visit_reason": "surgery", "callback_in_days": 3, "unknown": 1},
        },
        fallback,
    )
    assert merged.summary == "Booked a cleaning."
    assert merged.sentiment is Sentiment.NEGATIVE
    assert merged.extracted["visit_reason"] == "cleaning"  # "surgery" is not an enum value
    assert merged.extracted["callback_in_days"] == 3
    assert "unknown" not in merged.extracted

from __future__ import annotations

import json

import pytest

from ori_contracts import TranscriptRole, TranscriptTurn
from ori_contracts.testing import make_runtime_config
from ori_worker.analysis_llm import _judged, instructions, transcript_text

pytestmark = pytest.mark.unit


def test_the_transcript_is_shown_to_the_model_as_plain_lines() -> None:
    turns = [
        TranscriptTurn(role=TranscriptRole.ASSISTANT, text="Hello", started_at_ms=0, ended_at_ms=1),
        TranscriptTurn(role=TranscriptRole.USER, text="Book me", started_at_ms=2, ended_at_ms=3),
        TranscriptTurn(
            role=TranscriptRole.TOOL,
            text="",
            started_at_ms=4,
            ended_at_ms=5,
            tool_name="book",
            tool_arguments={"slot": "tue"},
            tool_result={"ok": True},
        ),
    ]
    assert transcript_text(turns).splitlines() == [
        "Bot: Hello",
        "Caller: Book me",
        '[tool book({"slot": "tue"}) -> {"ok": true}]',
    ]


def test_the_instructions_carry_the_bot_s_schema_rules_and_dispositions() -> None:
    text = instructions(make_runtime_config())
    fields = json.loads(text.split("(null when unknown): ")[1].split("\n")[0])
    assert fields["visit_reason"]["one_of"] == ["cleaning", "checkup", "pain", "other"]
    assert '"polite"' in text and '"no-dead-air"' not in text  # only llm_judged rules
    assert '"appointment_booked"' in text and '"no_decision"' in text


def test_only_well_formed_verdicts_on_llm_judged_rules_are_kept() -> None:
    cfg = make_runtime_config()
    qc = {
        "polite": {"passed": False, "evidence": "pushy"},
        "no-dead-air": {"passed": True},  # checked by the worker, not the model
        "unknown": {"passed": True},
    }
    assert _judged(cfg, qc) == {"polite": (False, "pushy")}
    assert _judged(cfg, {"polite": {"passed": "yes"}}) == {}
    assert _judged(cfg, "not an object") == {}

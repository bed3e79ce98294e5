"""CallResult validation: timings, the outcome/failure rule, identity and references."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from ori_contracts import (
    CallOutcome,
    CallResult,
    CallTimings,
    CallTransfer,
    FailureReason,
    TranscriptRole,
    TranscriptTurn,
    TransferStatus,
)
from ori_contracts.testing import make_call_result

pytestmark = pytest.mark.unit

UNANSWERED = {
    "answered_at": None,
    "started_at": "2026-03-02T17:00:00Z",
    "ended_at": "2026-03-02T17:00:30Z",
}


def _document(**changes: Any) -> dict[str, Any]:
    return make_call_result().model_dump(mode="json") | changes


def _rejects(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CallResult.model_validate(document)


def test_call_result_rejects_end_before_start() -> None:
    document = _document()
    document["timings"]["ended_at"] = "2026-03-02T16:00:00Z"
    _rejects(document, "ended_at is before started_at")


def test_call_result_rejects_answer_after_end() -> None:
    document = _document()
    document["timings"]["answered_at"] = "2026-03-02T18:00:00Z"
    _rejects(document, "answered_at is outside")


def test_call_result_rejects_naive_datetimes() -> None:
    document = _document()
    document["timings"]["started_at"] = "2026-03-02T17:00:00"
    _rejects(document, "timezone")


def test_timings_are_normalised_to_utc() -> None:
    timings = CallTimings(
        started_at=datetime.fromisoformat("2026-03-02T22:30:00+05:30"),
        ended_at=datetime.fromisoformat("2026-03-02T17:01:00+00:00"),
    )
    assert timings.started_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert timings.started_at.utcoffset() is not None
    assert timings.started_at.tzinfo is UTC
    assert timings.duration_ms == 60_000
    assert timings.talk_duration_ms is None


def test_durations_of_the_demo_call() -> None:
    timings = make_call_result().timings
    assert (timings.duration_ms, timings.talk_duration_ms) == (40_000, 34_000)


def test_failed_outcome_needs_a_reason() -> None:
    _rejects(_document(outcome="failed"), "outcome 'failed' needs a failure_reason")


def test_failed_outcome_with_reason_is_accepted() -> None:
    result = make_call_result(
        outcome=CallOutcome.FAILED,
        failure_reason=FailureReason.PROVIDER_ERROR,
        failure_detail="TTS returned HTTP 503 three times",
    )
    assert result.failure_reason is FailureReason.PROVIDER_ERROR


def test_failed_outcome_rejects_a_limit_reason() -> None:
    _rejects(_document(outcome="failed", failure_reason="max_duration"), "not a limit")


@pytest.mark.parametrize("reason", [None, "provider_error"])
def test_timeout_outcome_needs_a_limit_reason(reason: str | None) -> None:
    _rejects(_document(outcome="timeout", failure_reason=reason), "max_duration or idle_timeout")


def test_timeout_outcome_with_limit_reason_is_accepted() -> None:
    result = make_call_result(
        outcome=CallOutcome.TIMEOUT, failure_reason=FailureReason.IDLE_TIMEOUT
    )
    assert result.outcome is CallOutcome.TIMEOUT


def test_other_outcomes_reject_a_failure_reason() -> None:
    _rejects(_document(failure_reason="internal_error"), "outcome 'completed' must not have")


def test_failure_detail_needs_a_reason() -> None:
    _rejects(_document(failure_detail="something"), "failure_detail needs a failure_reason")


def test_answered_outcomes_need_an_answer_time() -> None:
    _rejects(_document(timings=UNANSWERED), "outcome 'completed' needs timings.answered_at")


def test_unanswered_outcomes_reject_an_answer_time() -> None:
    _rejects(_document(outcome="no_answer"), "outcome 'no_answer' must not have")


def test_identity_may_be_missing_only_when_config_was_unavailable() -> None:
    unknown = {"bot_id": None, "bot_version": None, "workspace_id": None}
    _rejects(_document(**unknown), "bot_id, bot_version and workspace_id are required")
    result = CallResult.model_validate(
        _document(**unknown, outcome="failed", failure_reason="config_unavailable")
    )
    assert result.bot_id is None


def test_identity_fields_are_set_together() -> None:
    _rejects(_document(bot_version=None), "must be set together")


def test_disposition_needs_its_source() -> None:
    _rejects(_document(disposition_source=None), "disposition and disposition_source")


def test_qc_finding_turn_index_must_be_in_the_transcript() -> None:
    document = _document()
    document["qc_findings"][0]["turn_index"] = 99
    _rejects(document, "past the end of the transcript")


def test_latency_turn_index_must_be_in_the_transcript() -> None:
    document = _document()
    document["latency"]["turns"][0]["turn_index"] = 99
    _rejects(document, "past the end of the transcript")


def test_tool_turn_needs_a_tool_name() -> None:
    with pytest.raises(ValidationError, match="a tool turn needs tool_name"):
        TranscriptTurn(role=TranscriptRole.TOOL, text="", started_at_ms=0, ended_at_ms=1)


def test_tool_fields_only_on_tool_turns() -> None:
    with pytest.raises(ValidationError, match="only valid on tool turns"):
        TranscriptTurn(
            role=TranscriptRole.USER,
            text="hi",
            started_at_ms=0,
            ended_at_ms=1,
            tool_name="end_call",
        )


def test_turn_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="ended_at_ms is before"):
        TranscriptTurn(role=TranscriptRole.USER, text="hi", started_at_ms=10, ended_at_ms=5)


def test_usage_provider_must_match_its_kind() -> None:
    document = _document()
    document["usage"][0]["provider"] = "espeak"
    _rejects(document, "'espeak' is not a known stt provider")


def test_recording_key_must_be_relative() -> None:
    document = _document()
    document["recording"]["object_key"] = "/abs/path.wav"
    _rejects(document, "recording.object_key")


def test_a_transfer_is_reported_only_on_a_transferred_call() -> None:
    transfer = {"target": "+14155550100", "status": "completed"}
    done = CallResult.model_validate(_document(outcome="transferred", transfer=transfer))
    assert done.transfer == CallTransfer(target="+14155550100", status=TransferStatus.COMPLETED)
    _rejects(_document(outcome="completed", transfer=transfer), "must not have a transfer")


@pytest.mark.parametrize(
    ("status", "error"),
    [("completed", "Twilio said no"), ("failed", None), ("unsupported", None)],
)
def test_a_transfer_error_is_set_exactly_when_it_did_not_complete(
    status: str, error: str | None
) -> None:
    transfer = {"target": "sip:desk@example.com", "status": status, "error": error}
    _rejects(_document(outcome="transferred", transfer=transfer), "error is required unless")


def test_a_transfer_target_is_a_number_or_a_sip_uri() -> None:
    transfer = {"target": "front desk", "status": "failed", "error": "x"}
    _rejects(_document(outcome="transferred", transfer=transfer), "target")

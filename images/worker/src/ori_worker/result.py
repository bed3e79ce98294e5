"""Assembling the one ``CallResult`` of a call, for every way a call can end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ori_contracts import (
    CallAnalysis,
    CallDirection,
    CallOutcome,
    CallResult,
    CallTimings,
    CallTransfer,
    DispositionSource,
    EndedBy,
    FailureReason,
    LatencyStats,
    ProviderUsage,
    QcFinding,
    RecordingRef,
    RuntimeConfig,
    TranscriptTurn,
)
from ori_worker.call_control import CallEnd
from ori_worker.telephony import CarrierLeg


@dataclass(frozen=True)
class CallFacts:
    """What is known about a call before its config: who, how, and when it arrived."""

    call_id: str
    bot_id: str | None
    direction: CallDirection
    leg: CarrierLeg
    worker_id: str | None
    started_at: datetime


@dataclass(frozen=True)
class Findings:
    """Everything measured or concluded about an answered call."""

    transcript: list[TranscriptTurn]
    recording: RecordingRef | None
    analysis: CallAnalysis | None
    qc_findings: list[QcFinding]
    disposition: str | None
    disposition_source: DispositionSource | None
    usage: list[ProviderUsage]
    latency: LatencyStats
    transfer: CallTransfer | None = None


def failure_before_config(
    facts: CallFacts,
    reason: FailureReason,
    detail: str,
    answered_at: datetime | None,
    ended_at: datetime,
) -> CallResult:
    """The result of a call that ended because its runtime config could not be had.

    ``answered_at`` is None for a call that was never answered (a dial-out that needed its
    config before dialling).
    """
    return CallResult(
        call_id=facts.call_id,
        direction=facts.direction,
        telephony_provider=facts.leg.provider,
        worker_id=facts.worker_id,
        from_number=facts.leg.from_number,
        to_number=facts.leg.to_number,
        timings=CallTimings(
            started_at=facts.started_at, answered_at=answered_at, ended_at=ended_at
        ),
        outcome=CallOutcome.FAILED,
        failure_reason=reason,
        failure_detail=detail[:2000],
        ended_by=EndedBy.SYSTEM,
    )


def call_result(
    facts: CallFacts,
    cfg: RuntimeConfig,
    end: CallEnd,
    answered_at: datetime | None,
    ended_at: datetime,
    findings: Findings | None,
) -> CallResult:
    """The result of a call whose config was loaded (answered, or failed after that)."""
    found = findings
    return CallResult(
        call_id=facts.call_id,
        bot_id=cfg.bot_id,
        bot_version=cfg.bot_version,
        workspace_id=cfg.workspace_id,
        campaign_id=cfg.campaign_id,
        contact_id=cfg.contact.id if cfg.contact else None,
        worker_id=facts.worker_id,
        direction=cfg.direction,
        telephony_provider=facts.leg.provider,
        from_number=facts.leg.from_number,
        to_number=facts.leg.to_number,
        timings=CallTimings(
            started_at=facts.started_at, answered_at=answered_at, ended_at=ended_at
        ),
        outcome=end.outcome,
        failure_reason=end.failure_reason,
        failure_detail=end.detail if end.failure_reason else None,
        ended_by=end.ended_by,
        transcript=found.transcript if found else [],
        recording=found.recording if found else None,
        analysis=found.analysis if found else None,
        qc_findings=found.qc_findings if found else [],
        disposition=found.disposition if found else None,
        disposition_source=found.disposition_source if found else None,
        usage=found.usage if found else [],
        latency=found.latency if found else LatencyStats(),
        transfer=found.transfer if found else None,
    )

"""`CallResult`: the complete record of one call, sent by the worker when the call ends.

Every call ends in exactly one `CallResult`, published even when the call fails, and the
backend ingests it idempotently on `call_id`. Times are UTC; transcript offsets are
milliseconds from `timings.answered_at`, so they line up with the recording.

Outcome and failure rule:

* `failed`: `failure_reason` is required and is not a limit reason.
* `timeout`: `failure_reason` is required and is a limit reason (`max_duration`,
  `idle_timeout`), saying which limit ended the call.
* any other outcome: `failure_reason` is None.
* `failure_detail` may be set only together with `failure_reason`.
* `transfer` (what the carrier did with a `transfer_call`) is set only on outcome
  `transferred`; its `error` is set exactly when its status is not `completed`.
"""

from enum import StrEnum
from typing import Final, Self

from pydantic import Field, JsonValue, field_validator, model_validator

from ori_contracts.base import ContractModel, JsonObject, UtcDatetime, check_schema_version
from ori_contracts.call_metrics import LatencyStats, ProviderUsage
from ori_contracts.ids import (
    E164,
    BotId,
    CallId,
    CampaignId,
    ContactId,
    SipUri,
    WorkerId,
    WorkspaceId,
)
from ori_contracts.post_call import DispositionCode, QcRuleId, QcSeverity
from ori_contracts.providers import TelephonyProvider
from ori_contracts.runtime_config import CallDirection, RecordingChannels, RecordingFormat

__all__ = [
    "CALL_RESULT_SCHEMA_VERSION",
    "LIMIT_FAILURE_REASONS",
    "CallAnalysis",
    "CallOutcome",
    "CallResult",
    "CallTimings",
    "CallTransfer",
    "DispositionSource",
    "EndedBy",
    "FailureReason",
    "QcFinding",
    "RecordingRef",
    "Sentiment",
    "TranscriptRole",
    "TranscriptTurn",
    "TransferStatus",
]

CALL_RESULT_SCHEMA_VERSION: Final = 1


class CallOutcome(StrEnum):
    """How the call ended, from the telephony point of view."""

    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    VOICEMAIL = "voicemail"
    TRANSFERRED = "transferred"
    REJECTED = "rejected"
    TIMEOUT = "timeout"


class FailureReason(StrEnum):
    """Why a call failed or was cut short."""

    CONFIG_UNAVAILABLE = "config_unavailable"
    CONFIG_INVALID = "config_invalid"
    PROVIDER_ERROR = "provider_error"
    TRANSPORT_ERROR = "transport_error"
    DIAL_ERROR = "dial_error"
    NO_WORKER_AVAILABLE = "no_worker_available"
    MAX_DURATION = "max_duration"
    IDLE_TIMEOUT = "idle_timeout"
    WORKER_SHUTDOWN = "worker_shutdown"
    INTERNAL_ERROR = "internal_error"


LIMIT_FAILURE_REASONS: Final = frozenset({FailureReason.MAX_DURATION, FailureReason.IDLE_TIMEOUT})
_CONFIG_FAILURE_REASONS: Final = frozenset(
    {FailureReason.CONFIG_UNAVAILABLE, FailureReason.CONFIG_INVALID}
)
_ANSWERED_OUTCOMES: Final = frozenset(
    {CallOutcome.COMPLETED, CallOutcome.VOICEMAIL, CallOutcome.TRANSFERRED}
)
_UNANSWERED_OUTCOMES: Final = frozenset(
    {CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.REJECTED}
)


class EndedBy(StrEnum):
    """Which side ended the call."""

    CALLER = "caller"
    """The person on the phone hung up."""
    BOT = "bot"
    """The bot ended it (end_call, transfer, voicemail)."""
    SYSTEM = "system"
    """Ori or the carrier ended it (limits, errors, no answer)."""


class CallTimings(ContractModel):
    """When the call happened, in UTC."""

    created_at: UtcDatetime | None = Field(
        default=None, description="When the backend created the call, before dialling or routing."
    )
    started_at: UtcDatetime = Field(description="When the call was dialled or arrived.")
    answered_at: UtcDatetime | None = Field(
        default=None, description="When the call was answered; None if it never was."
    )
    ended_at: UtcDatetime = Field(description="When the call ended.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.created_at is not None and self.created_at > self.started_at:
            raise ValueError("created_at is after started_at")
        if (
            self.answered_at is not None
            and not self.started_at <= self.answered_at <= self.ended_at
        ):
            raise ValueError("answered_at is outside started_at..ended_at")
        return self

    @property
    def duration_ms(self) -> int:
        """Milliseconds from start (dialled or arrived) to end."""
        return _millis_between(self.started_at, self.ended_at)

    @property
    def talk_duration_ms(self) -> int | None:
        """Milliseconds from answer to end; None if the call was never answered."""
        if self.answered_at is None:
            return None
        return _millis_between(self.answered_at, self.ended_at)


def _millis_between(start: UtcDatetime, end: UtcDatetime) -> int:
    return round((end - start).total_seconds() * 1000)


class TranscriptRole(StrEnum):
    """Who produced a transcript turn."""

    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    SYSTEM = "system"


class TranscriptTurn(ContractModel):
    """One turn of the conversation. Tool calls are turns with role `tool`."""

    role: TranscriptRole = Field(description="Who produced the turn.")
    text: str = Field(description="What was said; for tool turns, optional commentary.")
    started_at_ms: int = Field(ge=0, description="Start, in ms from `timings.answered_at`.")
    ended_at_ms: int = Field(ge=0, description="End, in ms from `timings.answered_at`.")
    interrupted: bool = Field(
        default=False, description="Whether the user cut this bot turn short (barge-in)."
    )
    tool_name: str | None = Field(default=None, description="Tool called; role `tool` only.")
    tool_arguments: JsonObject | None = Field(
        default=None, description="Arguments the tool was called with; role `tool` only."
    )
    tool_result: JsonValue = Field(
        default=None, description="What the tool returned; role `tool` only."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ended_at_ms < self.started_at_ms:
            raise ValueError("ended_at_ms is before started_at_ms")
        is_tool = self.role is TranscriptRole.TOOL
        if is_tool and self.tool_name is None:
            raise ValueError("a tool turn needs tool_name")
        has_tool_data = any(
            v is not None for v in (self.tool_name, self.tool_arguments, self.tool_result)
        )
        if not is_tool and has_tool_data:
            raise ValueError(f"tool fields are only valid on tool turns, not {self.role}")
        return self


class RecordingRef(ContractModel):
    """Where the call's recording was uploaded."""

    bucket: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="Object-storage bucket."
    )
    object_key: str = Field(
        min_length=1, max_length=1024, pattern=r"^[^/]", description="Object key in the bucket."
    )
    format: RecordingFormat = Field(description="File format.")
    channels: RecordingChannels = Field(description="Channel layout.")
    sample_rate_hz: int = Field(ge=8000, le=48000, description="Sample rate of the file.")
    duration_ms: int = Field(ge=0, description="Length of the audio.")
    size_bytes: int = Field(ge=0, description="Size of the object.")


class Sentiment(StrEnum):
    """Overall sentiment of the caller."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class CallAnalysis(ContractModel):
    """What post-call analysis found."""

    summary: str | None = Field(default=None, description="Short summary of the conversation.")
    extracted: JsonObject = Field(
        default_factory=dict,
        description="Extracted values, keyed by `RuntimeConfig.analysis_fields` names.",
    )
    sentiment: Sentiment | None = Field(default=None, description="Caller's overall sentiment.")


class QcFinding(ContractModel):
    """The result of one QC rule on this call."""

    rule_id: QcRuleId = Field(description="The rule checked.")
    passed: bool = Field(description="Whether the call met the rule.")
    severity: QcSeverity = Field(description="The rule's severity, copied from the config.")
    evidence: str | None = Field(
        default=None, description="Quote or reasoning that supports the verdict."
    )
    turn_index: int | None = Field(
        default=None, ge=0, description="Transcript turn the evidence comes from."
    )


class DispositionSource(StrEnum):
    """What chose the disposition."""

    TOOL = "tool"
    """The bot set it during the call through a tool call."""
    CLASSIFIER = "classifier"
    """Post-call analysis classified the transcript."""
    RULE = "rule"
    """A deterministic rule mapped the outcome (for example no_answer)."""
    DEFAULT = "default"
    """Nothing else decided; the config's `default_disposition`."""


class TransferStatus(StrEnum):
    """What the carrier did with the bot's request to transfer the call."""

    COMPLETED = "completed"
    """The carrier took the call to the target."""
    FAILED = "failed"
    """The carrier was asked and refused, or could not be reached; see `error`."""
    UNSUPPORTED = "unsupported"
    """This call's carrier (or the worker's configuration) cannot transfer; see `error`."""


class CallTransfer(ContractModel):
    """The carrier side of a `transfer_call`: where to, and whether it happened."""

    target: E164 | SipUri = Field(description="Where the call was to go: E.164 or SIP URI.")
    status: TransferStatus = Field(description="What the carrier did.")
    error: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Why the transfer did not happen; set exactly when status is not completed.",
    )

    @model_validator(mode="after")
    def _error_matches_status(self) -> Self:
        if (self.status is TransferStatus.COMPLETED) != (self.error is None):
            raise ValueError("error is required unless the transfer completed, and only then")
        return self


class CallResult(ContractModel):
    """The complete record of one call; see the module docstring for its rules."""

    schema_version: int = Field(
        default=CALL_RESULT_SCHEMA_VERSION,
        ge=1,
        strict=True,
        description="Major version of this contract; see `ori_contracts.base`.",
    )
    call_id: CallId = Field(description="The call; the idempotency key on ingest.")
    bot_id: BotId | None = Field(
        default=None, description="Bot run; None only when the config could not be loaded."
    )
    bot_version: int | None = Field(
        default=None, ge=1, description="Bot version run; None only with bot_id None."
    )
    workspace_id: WorkspaceId | None = Field(
        default=None, description="Owning workspace; None only with bot_id None."
    )
    campaign_id: CampaignId | None = Field(default=None, description="Campaign, if any.")
    contact_id: ContactId | None = Field(default=None, description="Contact, if known.")
    worker_id: WorkerId | None = Field(
        default=None, description="Worker that ran the call; None if none took it."
    )
    direction: CallDirection = Field(description="Inbound or outbound.")
    telephony_provider: TelephonyProvider = Field(description="How the call's audio arrived.")
    from_number: E164 | None = Field(default=None, description="Calling number, if known.")
    to_number: E164 | None = Field(default=None, description="Called number, if known.")
    timings: CallTimings = Field(description="When the call happened.")
    outcome: CallOutcome = Field(description="How the call ended.")
    failure_reason: FailureReason | None = Field(
        default=None, description="Why it failed or timed out; see the module rules."
    )
    failure_detail: str | None = Field(
        default=None, max_length=2000, description="Human-readable detail; never secrets."
    )
    ended_by: EndedBy = Field(description="Which side ended the call.")
    transcript: list[TranscriptTurn] = Field(
        default_factory=list, description="The conversation, in order."
    )
    recording: RecordingRef | None = Field(
        default=None, description="Uploaded recording; None if disabled or the upload failed."
    )
    analysis: CallAnalysis | None = Field(
        default=None, description="Post-call analysis; None if it did not run."
    )
    qc_findings: list[QcFinding] = Field(
        default_factory=list, description="One finding per QC rule checked."
    )
    disposition: DispositionCode | None = Field(
        default=None, description="Disposition code chosen; None when the bot defines none."
    )
    disposition_source: DispositionSource | None = Field(
        default=None, description="What chose the disposition; set exactly when it is."
    )
    usage: list[ProviderUsage] = Field(
        default_factory=list, description="Metered provider usage, for cost."
    )
    latency: LatencyStats = Field(
        default_factory=LatencyStats, description="Per-turn latency and its percentiles."
    )
    transfer: CallTransfer | None = Field(
        default=None,
        description="The carrier side of a transfer; outcome `transferred` only (None from "
        "workers that predate it).",
    )

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, value: int) -> int:
        return check_schema_version(
            value, current=CALL_RESULT_SCHEMA_VERSION, contract="CallResult"
        )

    @model_validator(mode="after")
    def _failure_matches_outcome(self) -> Self:
        reason, outcome = self.failure_reason, self.outcome
        if outcome is CallOutcome.FAILED and (reason is None or reason in LIMIT_FAILURE_REASONS):
            raise ValueError("outcome 'failed' needs a failure_reason that is not a limit")
        if outcome is CallOutcome.TIMEOUT and reason not in LIMIT_FAILURE_REASONS:
            raise ValueError("outcome 'timeout' needs failure_reason max_duration or idle_timeout")
        if outcome not in {CallOutcome.FAILED, CallOutcome.TIMEOUT} and reason is not None:
            raise ValueError(f"outcome '{outcome}' must not have a failure_reason")
        if self.failure_detail is not None and reason is None:
            raise ValueError("failure_detail needs a failure_reason")
        if self.transfer is not None and outcome is not CallOutcome.TRANSFERRED:
            raise ValueError(f"outcome '{outcome}' must not have a transfer")
        return self

    @model_validator(mode="after")
    def _answer_matches_outcome(self) -> Self:
        answered = self.timings.answered_at is not None
        if self.outcome in _ANSWERED_OUTCOMES and not answered:
            raise ValueError(f"outcome '{self.outcome}' needs timings.answered_at")
        if self.outcome in _UNANSWERED_OUTCOMES and answered:
            raise ValueError(f"outcome '{self.outcome}' must not have timings.answered_at")
        return self

    @model_validator(mode="after")
    def _identity_known(self) -> Self:
        identity = (self.bot_id, self.bot_version, self.workspace_id)
        if all(part is None for part in identity):
            if self.failure_reason not in _CONFIG_FAILURE_REASONS:
                raise ValueError("bot_id, bot_version and workspace_id are required")
        elif any(part is None for part in identity):
            raise ValueError("bot_id, bot_version and workspace_id must be set together")
        return self

    @model_validator(mode="after")
    def _references_in_range(self) -> Self:
        if (self.disposition is None) != (self.disposition_source is None):
            raise ValueError("disposition and disposition_source must be set together")
        turns = len(self.transcript)
        indices = [f.turn_index for f in self.qc_findings if f.turn_index is not None]
        indices += [t.turn_index for t in self.latency.turns]
        if any(index >= turns for index in indices):
            raise ValueError(f"a turn_index is past the end of the transcript ({turns} turns)")
        return self

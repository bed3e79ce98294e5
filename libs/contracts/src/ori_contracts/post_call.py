"""What the worker does after hang-up: extract fields, check QC rules, pick a disposition.

The rules are configured per bot (`RuntimeConfig.analysis_fields`, `qc_rules`,
`dispositions`); the answers come back in `CallResult.analysis`, `qc_findings` and
`disposition`.
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from ori_contracts.base import ContractModel

__all__ = [
    "AnalysisField",
    "AnalysisFieldType",
    "Disposition",
    "DispositionCode",
    "QcRule",
    "QcRuleId",
    "QcRuleKind",
    "QcSeverity",
]

DispositionCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
"""A disposition code such as `appointment_booked`."""
QcRuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
"""A QC rule id, unique within a bot."""


class AnalysisFieldType(StrEnum):
    """The JSON type of an extracted value. `list` is a list of strings."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"
    LIST = "list"


class AnalysisField(ContractModel):
    """A value to extract from the transcript after the call."""

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="Key in `CallAnalysis.extracted`; an identifier, unique within a bot.",
    )
    type: AnalysisFieldType = Field(description="Type of the extracted value.")
    description: str = Field(min_length=1, description="What to extract, shown to the analyser.")
    enum_values: list[str] = Field(
        default_factory=list, description="Allowed values; required for and only for type `enum`."
    )
    required: bool = Field(
        default=False, description="Whether the analyser must always produce a value."
    )

    @model_validator(mode="after")
    def _enum_values_iff_enum(self) -> Self:
        is_enum = self.type is AnalysisFieldType.ENUM
        if is_enum and not self.enum_values:
            raise ValueError(f"analysis field {self.name!r} of type enum needs enum_values")
        if not is_enum and self.enum_values:
            raise ValueError(f"analysis field {self.name!r}: enum_values only apply to type enum")
        return self


class QcRuleKind(StrEnum):
    """How a QC rule is checked."""

    MUST_SAY = "must_say"
    """The bot says at least one of `phrases`."""
    MUST_NOT_SAY = "must_not_say"
    """The bot says none of `phrases`."""
    LLM_JUDGED = "llm_judged"
    """An LLM judges the transcript against `description`."""
    MAX_SILENCE = "max_silence"
    """No silence in the conversation is longer than `max_silence_s`."""


class QcSeverity(StrEnum):
    """How much a failed QC rule matters."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class QcRule(ContractModel):
    """A quality-control rule checked on every call."""

    id: QcRuleId = Field(description="Rule id, unique within a bot; echoed in findings.")
    description: str = Field(
        min_length=1, description="What the rule checks; the criterion for `llm_judged`."
    )
    kind: QcRuleKind = Field(description="How the rule is checked.")
    phrases: list[str] = Field(
        default_factory=list,
        description="Phrases for must_say and must_not_say, matched case-insensitively.",
    )
    max_silence_s: float | None = Field(
        default=None, gt=0.0, description="Longest allowed silence, for max_silence."
    )
    severity: QcSeverity = Field(
        default=QcSeverity.WARNING, description="How much a failure matters."
    )

    @model_validator(mode="after")
    def _kind_has_its_parameter(self) -> Self:
        needs_phrases = self.kind in {QcRuleKind.MUST_SAY, QcRuleKind.MUST_NOT_SAY}
        if needs_phrases and not self.phrases:
            raise ValueError(f"QC rule {self.id!r} of kind {self.kind} needs phrases")
        if self.kind is QcRuleKind.MAX_SILENCE and self.max_silence_s is None:
            raise ValueError(f"QC rule {self.id!r} of kind max_silence needs max_silence_s")
        return self


class Disposition(ContractModel):
    """A business outcome a call can be filed under."""

    code: DispositionCode = Field(description="Stable code, unique within a bot.")
    label: str = Field(min_length=1, description="Human-readable name shown in the console.")
    description: str = Field(
        default="", description="When this disposition applies, shown to the classifier."
    )
    is_success: bool = Field(default=False, description="Whether it counts as a successful call.")
    terminal: bool = Field(
        default=True,
        description="Whether the contact is finished; false lets the dialler retry it.",
    )

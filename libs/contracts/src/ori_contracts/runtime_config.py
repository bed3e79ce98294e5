"""`RuntimeConfig`: everything a worker needs to run one call, built by the backend.

The backend builds it (`build_runtime_config`) and stores it under
`redis_keys.runtime_config(call_id)`; the worker reads it when the call arrives and holds no
other bot state. Nothing here is a secret: provider keys come from the worker's settings and
HTTP-tool credentials are `SecretRef`s. Where results go is also the worker's own setting.
"""

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from typing import Final, Self

from pydantic import Field, field_validator, model_validator

from ori_contracts.base import ContractModel, JsonObject, check_schema_version
from ori_contracts.ids import E164, BotId, CallId, CampaignId, ContactId, LanguageTag, WorkspaceId
from ori_contracts.pipeline_config import (
    LlmConfig,
    SttConfig,
    TtsConfig,
    TurnConfig,
    TurnStrategy,
    VadConfig,
)
from ori_contracts.post_call import AnalysisField, Disposition, DispositionCode, QcRule
from ori_contracts.providers import STT_PROVIDERS_WITH_TURN_DETECTION, TelephonyProvider
from ori_contracts.redis_keys import CALL_CLAIM_TTL_S
from ori_contracts.tools import KnowledgeBaseRef, SearchKnowledgeTool, Tool

__all__ = [
    "RUNTIME_CONFIG_SCHEMA_VERSION",
    "CallDirection",
    "CallLimits",
    "Contact",
    "Persona",
    "RecordingChannels",
    "RecordingFormat",
    "RecordingPolicy",
    "RuntimeConfig",
]

RUNTIME_CONFIG_SCHEMA_VERSION: Final = 1


class CallDirection(StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Contact(ContractModel):
    """The person on the other end, as far as the backend knows."""

    id: ContactId = Field(description="Contact id (Ori's or the CRM's).")
    phone: E164 | None = Field(default=None, description="Phone number in E.164 form.")
    name: str | None = Field(default=None, description="Name to address the contact by.")
    timezone: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
        description="IANA time zone, e.g. `Asia/Kolkata`.",
    )
    custom_fields: JsonObject = Field(
        default_factory=dict, description="Campaign-list columns, available to prompts and tools."
    )
    crm: JsonObject = Field(
        default_factory=dict, description="Record fetched from the CRM for this contact."
    )


class Persona(ContractModel):
    """What the bot is told and how it opens."""

    system_prompt: str = Field(min_length=1, description="System prompt for the LLM.")
    greeting: str | None = Field(
        default=None, description="First bot utterance, spoken verbatim; None: the LLM opens."
    )
    language: LanguageTag = Field(default="en-US", description="BCP-47 conversation language.")


class RecordingChannels(StrEnum):
    """Channel layout of a recording."""

    MONO = "mono"
    """Both parties mixed."""
    STEREO = "stereo"
    """Caller on the left channel, bot on the right."""


class RecordingFormat(StrEnum):
    """File format of a recording."""

    WAV = "wav"


class RecordingPolicy(ContractModel):
    """Whether and how the call is recorded."""

    enabled: bool = Field(default=True, description="Whether to record the call.")
    channels: RecordingChannels = Field(
        default=RecordingChannels.STEREO, description="Channel layout."
    )
    format: RecordingFormat = Field(default=RecordingFormat.WAV, description="File format.")
    retention_days: int | None = Field(
        default=None, ge=1, description="Days to keep the recording; None: keep indefinitely."
    )


class CallLimits(ContractModel):
    """Limits that end a call. A call cannot outlive its claim (`CALL_CLAIM_TTL_S`)."""

    max_duration_s: int = Field(
        default=600, gt=0, le=CALL_CLAIM_TTL_S, description="Longest the call may last."
    )
    silence_prompt_after_s: float = Field(
        default=10.0,
        gt=0.0,
        description="User silence, after the bot stops speaking, before it checks in.",
    )
    max_silence_prompts: int = Field(
        default=2, ge=0, le=10, description="Check-ins per silence; 0 disables them."
    )
    idle_timeout_s: float = Field(
        default=45.0,
        gt=0.0,
        description="User silence, counted from their last speech, that ends the call.",
    )

    @model_validator(mode="after")
    def _idle_after_prompt(self) -> Self:
        if self.idle_timeout_s <= self.silence_prompt_after_s:
            raise ValueError("idle_timeout_s must be greater than silence_prompt_after_s")
        return self


class RuntimeConfig(ContractModel):
    """Everything a worker needs for one call; see the module docstring for its lifecycle."""

    schema_version: int = Field(
        default=RUNTIME_CONFIG_SCHEMA_VERSION,
        ge=1,
        strict=True,
        description="Major version of this contract; see `ori_contracts.base`.",
    )
    call_id: CallId = Field(description="The call this config is for.")
    bot_id: BotId = Field(description="The bot being run.")
    bot_version: int = Field(ge=1, description="Published version of the bot.")
    workspace_id: WorkspaceId = Field(description="Tenant workspace that owns the bot.")
    campaign_id: CampaignId | None = Field(
        default=None,
        description="Campaign that placed the call; None for inbound and direct calls.",
    )
    contact: Contact | None = Field(
        default=None, description="Who is on the line; None when the caller is unknown."
    )
    direction: CallDirection = Field(description="Inbound or outbound.")
    telephony_provider: TelephonyProvider = Field(description="How the call's audio arrives.")
    persona: Persona = Field(description="Prompt, greeting and language.")
    stt: SttConfig = Field(description="Speech-to-text settings.")
    llm: LlmConfig = Field(description="Language-model settings.")
    tts: TtsConfig = Field(description="Text-to-speech settings.")
    vad: VadConfig = Field(default_factory=VadConfig, description="Voice-activity detection.")
    turn: TurnConfig = Field(default_factory=TurnConfig, description="Turn detection and barge-in.")
    tools: list[Tool] = Field(default_factory=list, description="Tools the LLM may call.")
    knowledge_bases: list[KnowledgeBaseRef] = Field(
        default_factory=list, description="Knowledge bases `search_knowledge` tools may use."
    )
    analysis_fields: list[AnalysisField] = Field(
        default_factory=list, description="Values to extract after the call."
    )
    qc_rules: list[QcRule] = Field(default_factory=list, description="QC rules to check.")
    dispositions: list[Disposition] = Field(
        default_factory=list, description="Dispositions the call can end with."
    )
    default_disposition: DispositionCode | None = Field(
        default=None,
        description="Disposition used when nothing else decides; required when there are any.",
    )
    recording: RecordingPolicy = Field(
        default_factory=RecordingPolicy, description="Recording policy."
    )
    limits: CallLimits = Field(default_factory=CallLimits, description="Limits that end the call.")

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, value: int) -> int:
        return check_schema_version(
            value, current=RUNTIME_CONFIG_SCHEMA_VERSION, contract="RuntimeConfig"
        )

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        _require_unique((tool.name for tool in self.tools), "tool name")
        _require_unique((kb.id for kb in self.knowledge_bases), "knowledge base id")
        _require_unique((field.name for field in self.analysis_fields), "analysis field name")
        _require_unique((rule.id for rule in self.qc_rules), "QC rule id")
        _require_unique((d.code for d in self.dispositions), "disposition code")
        return self

    @model_validator(mode="after")
    def _default_disposition_listed(self) -> Self:
        codes = {d.code for d in self.dispositions}
        if self.default_disposition is None and codes:
            raise ValueError("default_disposition is required when dispositions are configured")
        if self.default_disposition is not None and self.default_disposition not in codes:
            raise ValueError(
                f"default_disposition {self.default_disposition!r} is not in dispositions"
            )
        return self

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        kb_ids = {kb.id for kb in self.knowledge_bases}
        for tool in self.tools:
            if isinstance(tool, SearchKnowledgeTool):
                missing = sorted(set(tool.knowledge_base_ids) - kb_ids)
                if missing:
                    raise ValueError(f"tool {tool.name!r} uses unknown knowledge bases {missing}")
        tool_names = {tool.name for tool in self.tools}
        rules = self.llm.scripted.rules if self.llm.scripted else []
        for rule in rules:
            if rule.tool is not None and rule.tool not in tool_names:
                raise ValueError(f"scripted rule calls unknown tool {rule.tool!r}")
        return self

    @model_validator(mode="after")
    def _provider_turns_need_capable_stt(self) -> Self:
        if (
            self.turn.strategy is TurnStrategy.PROVIDER
            and self.stt.provider not in STT_PROVIDERS_WITH_TURN_DETECTION
        ):
            raise ValueError(
                f"turn strategy 'provider' is not supported by STT {self.stt.provider}"
            )
        return self


def _require_unique(values: Iterable[str], what: str) -> None:
    duplicates = sorted(value for value, count in Counter(values).items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")

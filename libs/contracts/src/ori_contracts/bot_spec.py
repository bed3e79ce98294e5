"""`BotSpec`: what a bot is, as the backend stores it and the operator's `Bot` resource holds it.

A bot is the call-independent part of a `RuntimeConfig`: persona, providers, tools, knowledge
bases, post-call schema, recording and limits. The backend keeps every change as an immutable
version and builds a call's `RuntimeConfig` from one version plus the call (ids, contact,
direction). Knowledge bases are named by id here and resolved to `KnowledgeBaseRef`s by the
backend.

The operator writes bots through ``PUT {BOTS_BY_REF_PATH}/{namespace}.{name}`` with a
:class:`BotSpec` body and gets a :class:`BotSyncResult`; see ``docs/api.md``.
"""

from typing import Final, Self

from pydantic import Field, ValidationError, model_validator

from ori_contracts.base import ContractModel
from ori_contracts.ids import KnowledgeBaseId
from ori_contracts.pipeline_config import LlmConfig, SttConfig, TtsConfig, TurnConfig, VadConfig
from ori_contracts.post_call import AnalysisField, Disposition, DispositionCode, QcRule
from ori_contracts.runtime_config import (
    CallDirection,
    CallLimits,
    Persona,
    RecordingPolicy,
    RuntimeConfig,
)
from ori_contracts.tools import KnowledgeBaseRef, Tool

__all__ = [
    "BOTS_BY_REF_PATH",
    "EXTERNAL_REF_PATTERN",
    "BotManager",
    "BotSpec",
    "BotSyncResult",
]

BOTS_BY_REF_PATH: Final = "/api/v1/bots/by-ref"
"""Backend path prefix of the operator's idempotent bot upsert (``/{namespace}.{name}``)."""

EXTERNAL_REF_PATTERN: Final = (
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
)
"""``<namespace>.<name>`` of a Kubernetes object (DNS labels and subdomain names)."""


class BotManager:
    """Who owns a bot. Bots owned by anything but the API are read-only through the API."""

    API: Final = "api"
    KUBERNETES: Final = "kubernetes"


class BotSpec(ContractModel):
    """A bot's full definition; every field a `RuntimeConfig` needs that is not about one call."""

    name: str = Field(min_length=1, max_length=200, description="Human-readable bot name.")
    description: str = Field(default="", max_length=2000, description="What the bot is for.")
    persona: Persona = Field(description="Prompt, greeting and language.")
    stt: SttConfig = Field(description="Speech-to-text settings.")
    llm: LlmConfig = Field(description="Language-model settings.")
    tts: TtsConfig = Field(description="Text-to-speech settings.")
    vad: VadConfig = Field(default_factory=VadConfig, description="Voice-activity detection.")
    turn: TurnConfig = Field(default_factory=TurnConfig, description="Turn detection and barge-in.")
    tools: list[Tool] = Field(default_factory=list, description="Tools the LLM may call.")
    knowledge_base_ids: list[KnowledgeBaseId] = Field(
        default_factory=list,
        description="Knowledge bases (of the same workspace) `search_knowledge` tools may use.",
    )
    analysis_fields: list[AnalysisField] = Field(
        default_factory=list, description="Values to extract after the call."
    )
    qc_rules: list[QcRule] = Field(default_factory=list, description="QC rules to check.")
    dispositions: list[Disposition] = Field(
        default_factory=list, description="Dispositions the call can end with."
    )
    default_disposition: DispositionCode | None = Field(
        default=None, description="Disposition used when nothing else decides."
    )
    recording: RecordingPolicy = Field(
        default_factory=RecordingPolicy, description="Recording policy."
    )
    limits: CallLimits = Field(default_factory=CallLimits, description="Limits that end a call.")

    @model_validator(mode="after")
    def _valid_as_runtime_config(self) -> Self:
        try:
            self.to_runtime_config(
                call_id="validation",
                bot_id="validation",
                bot_version=1,
                workspace_id="validation",
                direction=CallDirection.INBOUND,
                telephony_provider="websocket",
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'bot'}: {e['msg']}" for e in error.errors()
            )
            raise ValueError(problems.replace("Value error, ", "")) from None
        return self

    def to_runtime_config(
        self, *, knowledge_bases: list[KnowledgeBaseRef] | None = None, **call: object
    ) -> RuntimeConfig:
        """Build the `RuntimeConfig` of one call from this spec.

        Args:
            knowledge_bases: The resolved knowledge bases; placeholders named after
                `knowledge_base_ids` when omitted (validation only).
            **call: The call's own fields (`call_id`, `bot_id`, `bot_version`, `workspace_id`,
                `direction`, `telephony_provider`, and optionally `campaign_id`, `contact`).

        Returns:
            The validated config.

        Raises:
            pydantic.ValidationError: If the spec and call do not form a valid config.
        """
        if knowledge_bases is None:
            knowledge_bases = [
                KnowledgeBaseRef(id=kb, name=kb, collection=kb) for kb in self.knowledge_base_ids
            ]
        spec = self.model_dump(exclude={"name", "description", "knowledge_base_ids"})
        return RuntimeConfig.model_validate({**spec, **call, "knowledge_bases": knowledge_bases})


class BotSyncResult(ContractModel):
    """The backend's answer to an operator's bot upsert."""

    id: str = Field(description="The backend's bot id.")
    version: int = Field(ge=1, description="The bot's current version after the upsert.")
    created: bool = Field(description="Whether this upsert created the bot.")
    changed: bool = Field(description="Whether it made a new version (false: spec unchanged).")

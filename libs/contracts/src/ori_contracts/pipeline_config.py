"""Per-call speech pipeline settings: STT, LLM, TTS, voice activity and turn detection.

These models are nested in `RuntimeConfig`. Defaults for VAD and Smart Turn match pipecat's
(`VADParams`, `SmartTurnParams`). `None` for a model, voice or sampling setting means "the
provider's default" and is resolved by the worker's adapter.
"""

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from ori_contracts.base import ContractModel, JsonObject
from ori_contracts.ids import HttpUrlStr, LanguageTag
from ori_contracts.providers import LlmProvider, SttProvider, TtsProvider

__all__ = [
    "LlmConfig",
    "ScriptedLlmConfig",
    "ScriptedRule",
    "SttConfig",
    "TtsConfig",
    "TurnConfig",
    "TurnStrategy",
    "VadConfig",
]


class SttConfig(ContractModel):
    """Speech-to-text settings."""

    provider: SttProvider = Field(description="Speech-to-text provider.")
    model: str | None = Field(
        default=None, description="Provider model, e.g. `nova-3`; None: provider default."
    )
    language: LanguageTag | None = Field(
        default=None, description="BCP-47 language to recognise; None: the persona's language."
    )
    phrases: list[str] = Field(
        default_factory=list,
        description=(
            "Words and phrases to bias recognition toward. PocketSphinx uses them as its "
            "keyword grammar; cloud providers as keyterms or boosts where supported."
        ),
    )
    options: JsonObject = Field(
        default_factory=dict, description="Provider-specific settings passed to the adapter."
    )


class ScriptedRule(ContractModel):
    """One rule of the scripted LLM: when the user says any of these, reply and maybe act."""

    when_any: list[str] = Field(
        min_length=1,
        description=(
            "Keywords or phrases; the rule fires when the final user transcript contains any "
            "of them as whole words, compared case-insensitively."
        ),
    )
    say: str = Field(min_length=1, description="What the bot says when the rule fires.")
    tool: str | None = Field(
        default=None, description="Name of a configured tool to call after speaking."
    )
    tool_arguments: JsonObject = Field(
        default_factory=dict, description="Arguments for `tool`; empty when there is no tool."
    )

    @model_validator(mode="after")
    def _arguments_need_tool(self) -> Self:
        if self.tool_arguments and self.tool is None:
            raise ValueError("tool_arguments is set but tool is not")
        return self


class ScriptedLlmConfig(ContractModel):
    """A deterministic conversation for the `scripted` LLM provider (demos, tests, CI)."""

    rules: list[ScriptedRule] = Field(
        default_factory=list,
        description="Rules tried in order against each user turn; the first match wins.",
    )
    fallback_reply: str = Field(
        default="Sorry, I didn't catch that. Could you say it again?",
        min_length=1,
        description="What the bot says when no rule matches.",
    )


class LlmConfig(ContractModel):
    """Language-model settings."""

    provider: LlmProvider = Field(description="Language-model provider.")
    model: str | None = Field(
        default=None, description="Provider model, e.g. `gpt-4.1-mini`; None: provider default."
    )
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="Sampling temperature; None: provider default."
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="Cap on tokens per reply; None: provider default."
    )
    base_url: HttpUrlStr | None = Field(
        default=None,
        description="Endpoint of an API-compatible server; None: the provider's own.",
    )
    options: JsonObject = Field(
        default_factory=dict, description="Provider-specific settings passed to the adapter."
    )
    scripted: ScriptedLlmConfig | None = Field(
        default=None,
        description="The script; required when provider is `scripted`, absent otherwise.",
    )

    @model_validator(mode="after")
    def _script_iff_scripted(self) -> Self:
        is_scripted = self.provider is LlmProvider.SCRIPTED
        if is_scripted and self.scripted is None:
            raise ValueError("provider 'scripted' requires a `scripted` section")
        if not is_scripted and self.scripted is not None:
            raise ValueError(
                f"`scripted` is only valid with provider 'scripted', not {self.provider}"
            )
        return self


class TtsConfig(ContractModel):
    """Text-to-speech settings."""

    provider: TtsProvider = Field(description="Text-to-speech provider.")
    voice: str | None = Field(
        default=None, description="Provider voice id or name; None: provider default."
    )
    model: str | None = Field(default=None, description="Provider model; None: provider default.")
    speed: float = Field(
        default=1.0, ge=0.25, le=4.0, description="Speaking-rate multiplier; 1.0 is normal."
    )
    sample_rate_hz: int | None = Field(
        default=None,
        ge=8000,
        le=48000,
        description="Rate to synthesise at; None: the transport's output rate.",
    )
    options: JsonObject = Field(
        default_factory=dict, description="Provider-specific settings passed to the adapter."
    )


class VadConfig(ContractModel):
    """Silero voice-activity detection (pipecat `VADParams`)."""

    confidence: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Minimum speech probability per frame."
    )
    start_s: float = Field(
        default=0.2, ge=0.0, le=5.0, description="Speech needed before the user counts as speaking."
    )
    stop_s: float = Field(
        default=0.2, ge=0.0, le=5.0, description="Silence needed before the user counts as stopped."
    )
    min_volume: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Minimum normalised volume counted as speech."
    )


class TurnStrategy(StrEnum):
    """How the end of the user's turn is decided."""

    SMART_TURN_V3 = "smart_turn_v3"
    """Silero VAD plus the Smart Turn v3 audio model."""
    VAD_ONLY = "vad_only"
    """Silero VAD plus a fixed silence timeout (`speech_timeout_s`)."""
    PROVIDER = "provider"
    """The STT provider reports turns itself (Deepgram Flux)."""


class TurnConfig(ContractModel):
    """Turn detection and barge-in."""

    strategy: TurnStrategy = Field(
        default=TurnStrategy.SMART_TURN_V3, description="How the end of a user turn is decided."
    )
    stop_s: float = Field(
        default=3.0,
        gt=0.0,
        le=30.0,
        description="smart_turn_v3: silence after which the turn ends whatever the model says.",
    )
    pre_speech_ms: int = Field(
        default=500, ge=0, le=5000, description="smart_turn_v3: audio kept before speech starts."
    )
    max_duration_s: float = Field(
        default=8.0, gt=0.0, le=60.0, description="smart_turn_v3: longest audio given to the model."
    )
    speech_timeout_s: float = Field(
        default=0.6, gt=0.0, le=10.0, description="vad_only: silence that ends the user's turn."
    )
    allow_interruptions: bool = Field(
        default=True, description="Whether the user can interrupt the bot (barge-in)."
    )
    min_interruption_words: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Words the user must say to interrupt; 0: any detected speech interrupts.",
    )

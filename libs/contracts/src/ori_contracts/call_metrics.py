"""Measurements reported with a call: provider usage (for cost) and turn latency.

Latency is measured server-side, as pipecat's `UserBotLatencyObserver` does: from the moment
the user stopped speaking (VAD stop, adjusted for `VadConfig.stop_s`) to the moment the bot
started speaking. Percentiles use the nearest-rank method.
"""

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Final, Self

from pydantic import Field, model_validator

from ori_contracts.base import ContractModel
from ori_contracts.providers import (
    LlmProvider,
    ProviderKind,
    SttProvider,
    TelephonyProvider,
    TtsProvider,
)

__all__ = ["LatencyStats", "ProviderUsage", "TurnLatency", "UsageUnit", "percentile"]

_PROVIDERS_BY_KIND: Final[dict[ProviderKind, frozenset[str]]] = {
    ProviderKind.STT: frozenset(SttProvider),
    ProviderKind.LLM: frozenset(LlmProvider),
    ProviderKind.TTS: frozenset(TtsProvider),
    ProviderKind.TELEPHONY: frozenset(TelephonyProvider),
}


class UsageUnit(StrEnum):
    """What a usage quantity counts."""

    AUDIO_SECONDS = "audio_seconds"
    CHARACTERS = "characters"
    INPUT_TOKENS = "input_tokens"
    CACHED_INPUT_TOKENS = "cached_input_tokens"
    OUTPUT_TOKENS = "output_tokens"
    CALL_SECONDS = "call_seconds"


class ProviderUsage(ContractModel):
    """One metered quantity from one provider and model; a provider may have several rows."""

    kind: ProviderKind = Field(description="The stage the provider served.")
    provider: str = Field(description="Provider name, a value of the enum for `kind`.")
    model: str | None = Field(default=None, description="Model used, when the provider has one.")
    unit: UsageUnit = Field(description="What `quantity` counts.")
    quantity: float = Field(ge=0.0, description="Amount used during the call.")
    cost_usd: float | None = Field(
        default=None, ge=0.0, description="Estimated cost in US dollars; None: unknown."
    )

    @model_validator(mode="after")
    def _provider_matches_kind(self) -> Self:
        if self.provider not in _PROVIDERS_BY_KIND[self.kind]:
            raise ValueError(f"{self.provider!r} is not a known {self.kind} provider")
        return self


class TurnLatency(ContractModel):
    """Latency of one bot reply, in milliseconds; stage figures are None when not measured."""

    turn_index: int = Field(ge=0, description="Index in the transcript of the bot's reply.")
    stt_ms: int | None = Field(
        default=None, ge=0, description="User stopped speaking -> final transcript."
    )
    llm_ttfb_ms: int | None = Field(
        default=None, ge=0, description="LLM request sent -> first token received."
    )
    tts_ttfb_ms: int | None = Field(
        default=None, ge=0, description="First text sent to TTS -> first audio received."
    )
    total_ms: int = Field(
        ge=0, description="Caller-perceived: user stopped speaking -> bot started speaking."
    )


def percentile(values: Sequence[int], pct: float) -> int | None:
    """Return the nearest-rank percentile of `values`, or None when there are none.

    Args:
        values: The samples, in any order.
        pct: The percentile, in (0, 100].

    Returns:
        The smallest sample with at least `pct` percent of the samples at or below it.

    Raises:
        ValueError: If `pct` is outside (0, 100].
    """
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {pct}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(pct / 100 * len(ordered)) - 1]


class LatencyStats(ContractModel):
    """Per-turn latency and its summary. Build it with `LatencyStats.from_turns`."""

    turns: list[TurnLatency] = Field(
        default_factory=list, description="One entry per bot reply to a user turn."
    )
    total_p50_ms: int | None = Field(
        default=None, ge=0, description="Median of `total_ms`; None when there are no turns."
    )
    total_p95_ms: int | None = Field(
        default=None, ge=0, description="95th percentile of `total_ms`; None when no turns."
    )

    @classmethod
    def from_turns(cls, turns: Sequence[TurnLatency]) -> Self:
        """Build the stats, computing the percentiles from the turns."""
        totals = [turn.total_ms for turn in turns]
        return cls(
            turns=list(turns),
            total_p50_ms=percentile(totals, 50),
            total_p95_ms=percentile(totals, 95),
        )

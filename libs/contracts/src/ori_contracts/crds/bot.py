"""`Bot`: a bot as the backend holds it (`ori_contracts.bot_spec.BotSpec`), as a resource.

The spec *is* the backend's `BotSpec`, field for field (persona, speech, language model,
tools, knowledge bases, analysis, QC, dispositions, recording, limits), with two differences:
`name` may be left out (the resource's name is used), and provider `options` refuse
credentials. Credentials never live in a Bot: they reach the workers as Secret references in
their FleetPool's `provider_secrets`.
"""

import re
from typing import Annotated, Any, Final

from pydantic import ConfigDict, Field, StringConstraints, field_validator
from pydantic.config import JsonDict

from ori_contracts import bot_spec
from ori_contracts.base import ContractModel, JsonObject
from ori_contracts.crds.common import (
    Condition,
    CustomResource,
    PrinterColumn,
    cel,
    condition_column,
)
from ori_contracts.pipeline_config import LlmConfig, SttConfig, TtsConfig

__all__ = ["BOT", "BotLlm", "BotSpec", "BotStatus", "BotStt", "BotTts"]

_CREDENTIAL_KEY: Final = re.compile(r"api[-_]?key|secret|token|password|credential", re.I)
# CEL cannot iterate the keys of a free-form object, so the schema names the credential keys
# people actually write and refuses them; the model refuses any credential-like key.
_CREDENTIAL_NAMES: Final = (
    "api_key",
    "apiKey",
    "key",
    "token",
    "access_token",
    "secret",
    "secret_key",
    "password",
)
_INLINE: Final = (
    "provider credentials must not be inline; put the key in a Secret and reference it from "
    "the FleetPool's provider_secrets"
)
_NO_INLINE_CREDENTIALS: Final[JsonDict] = {
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {name: {"type": "string"} for name in _CREDENTIAL_NAMES},
    "x-kubernetes-validations": [
        cel(" && ".join(f"!has(self.{name})" for name in _CREDENTIAL_NAMES), _INLINE)
    ],
}


def _options() -> Any:
    return Field(
        default_factory=dict,
        max_length=64,
        description=(
            "Provider-specific settings passed to the adapter. Credential-like keys "
            "(api_key, secret, token, password) are refused."
        ),
        json_schema_extra=_NO_INLINE_CREDENTIALS,
    )


def _refuse_inline_credentials(options: JsonObject) -> JsonObject:
    keys = sorted(key for key in options if _CREDENTIAL_KEY.search(key))
    if keys:
        raise ValueError(f"{_INLINE} (found {', '.join(keys)})")
    return options


class BotStt(SttConfig):
    """Speech-to-text settings; `options` refuse credentials."""

    options: JsonObject = _options()
    _no_inline = field_validator("options")(_refuse_inline_credentials)


class BotLlm(LlmConfig):
    """Language-model settings; `options` refuse credentials."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "(self.provider == 'scripted') == has(self.scripted)",
                    "llm.scripted is required when (and only when) llm.provider is 'scripted'",
                )
            ]
        }
    )

    options: JsonObject = _options()
    _no_inline = field_validator("options")(_refuse_inline_credentials)


class BotTts(TtsConfig):
    """Text-to-speech settings; `options` refuse credentials."""

    options: JsonObject = _options()
    _no_inline = field_validator("options")(_refuse_inline_credentials)


class BotSpec(bot_spec.BotSpec):
    """The backend's `BotSpec`, with `name` optional and credential-free provider options."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(  # type: ignore[assignment]
        default=None, description="Name shown in the console; unset: the resource's name."
    )
    stt: BotStt = Field(description="Speech-to-text settings.")
    llm: BotLlm = Field(description="Language-model settings.")
    tts: BotTts = Field(description="Text-to-speech settings.")

    def for_backend(self, resource_name: str) -> bot_spec.BotSpec:
        """The body of the backend's bot upsert: this spec, named."""
        fields = self.model_dump(mode="json", by_alias=True)
        return bot_spec.BotSpec.model_validate({**fields, "name": self.name or resource_name})


class BotStatus(ContractModel):
    """Where the bot stands in the backend."""

    observed_generation: int | None = Field(
        default=None,
        alias="observedGeneration",
        description="The `metadata.generation` this status was computed from.",
    )
    backend_id: str | None = Field(default=None, description="The bot's id in the backend.")
    version: int | None = Field(
        default=None, description="The backend's bot version matching this generation."
    )
    synced_at: str | None = Field(
        default=None, description="When the backend last confirmed it (RFC 3339)."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="`Ready` (valid and live in the backend) and `Synced` (backend up to date).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )


BOT: Final = CustomResource(
    kind="Bot",
    plural="bots",
    description=(
        "A voice bot: persona, speech and language providers, tools and post-call rules. The "
        "Ori operator keeps the backend's copy in step with it."
    ),
    spec=BotSpec,
    status=BotStatus,
    short_names=("obot",),
    printer_columns=(
        PrinterColumn("Display name", ".spec.name"),
        PrinterColumn("LLM", ".spec.llm.provider", description="Language-model provider."),
        PrinterColumn("Version", ".status.version", "integer", "Backend bot version."),
        condition_column("Ready"),
        condition_column("Synced", priority=1),
        PrinterColumn("Age", ".metadata.creationTimestamp", "date"),
    ),
)

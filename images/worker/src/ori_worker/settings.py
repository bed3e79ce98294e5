"""Worker settings: the only place the worker reads its environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AnyHttpUrl, AnyUrl, Field, SecretStr

from ori_contracts.settings import (
    LogSettings,
    MinioSettings,
    OtelSettings,
    SharedSecretSettings,
    load_settings,
    when,
)

_IF_USED = when("a bot uses this provider")


def _provider_key(provider: str) -> SecretStr | None:
    return Field(None, description=f"{provider} API key.", json_schema_extra=_IF_USED)


class WorkerSettings(MinioSettings, SharedSecretSettings, LogSettings, OtelSettings):
    """Everything a worker reads from its environment or ``.env``."""

    voxbridge_config_url: AnyHttpUrl = Field(
        description="Backend endpoint the worker fetches each call's runtime config from.",
        examples=["http://localhost:8080/api/v1/config"],
    )
    soniox_api_key: SecretStr | None = _provider_key("Soniox STT")
    deepgram_api_key: SecretStr | None = _provider_key("Deepgram STT (Nova, Flux)")
    openai_api_key: SecretStr | None = _provider_key("OpenAI LLM")
    google_api_key: SecretStr | None = _provider_key("Google (Gemini) LLM")
    elevenlabs_api_key: SecretStr | None = _provider_key("ElevenLabs TTS")
    sarvam_api_key: SecretStr | None = _provider_key("Sarvam TTS")
    cartesia_api_key: SecretStr | None = _provider_key("Cartesia TTS")
    max_concurrent_calls: int = Field(
        description="Calls one worker serves at once. 1 in production: capacity comes from "
        "adding workers, not from raising this.",
        examples=[1],
        ge=1,
    )
    audio_sample_rate: int = Field(16000, description="Pipeline sample rate in Hz.", ge=8000)
    livekit_url: AnyUrl | None = Field(
        None,
        description="LiveKit server URL for SIP and widget calls.",
        examples=["wss://livekit.example.com"],
        json_schema_extra=when("LiveKit paths are used"),
    )
    livekit_api_key: SecretStr | None = Field(
        None, description="LiveKit API key.", json_schema_extra=when("LiveKit paths are used")
    )
    livekit_api_secret: SecretStr | None = Field(
        None,
        description="LiveKit API secret. Keep secret.",
        json_schema_extra=when("LiveKit paths are used"),
    )
    otel_service_name: str = Field(
        "voice-fleet",
        description="Service name attached to spans.",
        json_schema_extra=when("enabled"),
    )


@lru_cache(maxsize=1)
def get_settings() -> WorkerSettings:
    """Load the worker settings once, exiting with a clear message if they are incomplete."""
    return load_settings(WorkerSettings, "ori-worker")

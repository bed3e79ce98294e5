"""Worker settings: the only place the worker reads its environment."""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path

from pydantic import AnyHttpUrl, AnyUrl, Field, SecretStr, field_validator, model_validator

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
    openai_api_key: SecretStr | None = _provider_key("OpenAI LLM, STT and TTS")
    google_api_key: SecretStr | None = _provider_key("Google (Gemini) LLM")
    elevenlabs_api_key: SecretStr | None = _provider_key("ElevenLabs TTS")
    sarvam_api_key: SecretStr | None = _provider_key("Sarvam STT and TTS")
    cartesia_api_key: SecretStr | None = _provider_key("Cartesia TTS")
    max_concurrent_calls: int = Field(
        description="Calls one worker serves at once. 1 in production: capacity comes from "
        "adding workers, not from raising this.",
        examples=[1],
        ge=1,
    )
    audio_sample_rate: int = Field(
        16000,
        description="Pipeline sample rate in Hz for LiveKit (WebRTC) calls; carrier media "
        "streams always run at their own 8 kHz.",
        ge=8000,
    )
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
    livekit_trunk_id: str | None = Field(
        None,
        description="Outbound SIP trunk ID /livekit/dialout places calls on, unless the request "
        "names one.",
        examples=["ST_xxxxxxxx"],
        json_schema_extra=when("calls are dialled out through LiveKit"),
    )
    twilio_account_sid: str | None = Field(
        None,
        description="Twilio account SID the worker transfers and hangs up Twilio calls with "
        "(REST API). Unset: a transfer_call on a Twilio call is reported unsupported, and a "
        "call the bot ends just closes its media stream.",
        pattern=r"^AC[0-9a-fA-F]{32}$",
        json_schema_extra=when("bots transfer Twilio calls"),
    )
    twilio_auth_token: SecretStr | None = Field(
        None,
        description="Auth token of TWILIO_ACCOUNT_SID (set both or neither). Keep secret.",
        json_schema_extra=when("bots transfer Twilio calls"),
    )
    twilio_api_base_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://api.twilio.com"),
        description="Root of Twilio's REST API (a regional edge such as "
        "https://api.dublin.ie1.twilio.com, or a stand-in in tests).",
    )
    otel_service_name: str = Field(
        "voice-fleet",
        description="Service name attached to spans.",
        json_schema_extra=when("enabled"),
    )
    voxbridge_results_url: AnyHttpUrl | None = Field(
        None,
        description="Where call results are delivered; default: /api/v1/call-results on the "
        "backend of VOXBRIDGE_CONFIG_URL.",
        examples=["http://localhost:8080/api/v1/call-results"],
    )
    config_timeout_s: float = Field(
        5.0,
        description="Seconds a call waits for its runtime config before it ends politely "
        "with a failure result.",
        gt=0,
        le=30,
    )
    outbox_dir: Path = Field(
        Path("outbox"),
        description="Directory of the durable result outbox (results waiting for the "
        "backend). Keep it on a volume that outlives the process.",
        examples=["/var/lib/ori/outbox"],
    )
    outbox_flush_timeout_s: float = Field(
        30.0,
        description="On shutdown, how long the worker keeps trying to deliver pending "
        "results after its last call ended.",
        ge=0,
    )
    recordings_dir: Path = Field(
        Path("recordings"),
        description="Scratch directory for a call's recording until it is uploaded.",
    )
    tool_secrets_dir: Path | None = Field(
        None,
        description="Directory of mounted secrets for HTTP tools' SecretRef headers, laid out "
        "<dir>/<secret name>/<key> (a Kubernetes Secret volume).",
        examples=["/var/run/secrets/ori-tools"],
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the worker's registration (heartbeat, state) so calls can be "
        "allocated to it. Unset: the worker does not register.",
        examples=["redis://localhost:6379"],
        json_schema_extra=when("calls are allocated through Redis (Kubernetes)"),
    )
    worker_id: str | None = Field(
        None,
        description="This worker's id in its registration; default: the host name (the pod "
        "name in Kubernetes).",
        examples=["ori-worker-default-7d9f8b6c5-x2k4p"],
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    )
    fleetpool: str = Field(
        "default",
        description="The FleetPool this worker belongs to (its registration's pool).",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    )
    worker_address: str | None = Field(
        None,
        description="host:port the call router reaches this worker at (the pod IP and port); "
        "default: the address it serves on.",
        examples=["10.0.3.17:8000"],
    )
    static_runtime_config: Path | None = Field(
        None,
        description="Answer every call with this RuntimeConfig JSON file instead of asking the "
        "backend (offline demos, tests and benchmarks only).",
        examples=["demo-bot.json"],
    )
    require_call_token: bool = Field(
        False,
        description="Refuse calls (media connections, LiveKit dispatches) without a valid "
        "per-call token (signed with VOXCORE_SECRET by whoever claimed the worker).",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("twilio_account_sid", "twilio_auth_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _twilio_pair(self) -> WorkerSettings:
        if (self.twilio_account_sid is None) != (self.twilio_auth_token is None):
            raise ValueError("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN together, or neither")
        return self

    @property
    def resolved_worker_id(self) -> str:
        """``WORKER_ID``, or the host name cut to a valid id."""
        return self.worker_id or socket.gethostname().split(".")[0][:128] or "worker"


@lru_cache(maxsize=1)
def get_settings() -> WorkerSettings:
    """Load the worker settings once, exiting with a clear message if they are incomplete."""
    return load_settings(WorkerSettings, "ori-worker")

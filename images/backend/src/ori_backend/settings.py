"""Backend settings: the only place the backend reads its environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from ori_contracts.settings import (
    LogSettings,
    MongoSettings,
    OtelSettings,
    RedisSettings,
    json_url_list,
    load_settings,
    when,
)


class BackendSettings(MongoSettings, RedisSettings, LogSettings, OtelSettings):
    """Everything the backend reads from its environment or ``.env``."""

    jwt_secret: SecretStr = Field(
        description="Secret that signs operator session tokens. Keep secret; generate with "
        "`openssl rand -hex 32`.",
        examples=["replace-with-openssl-rand-hex-32"],
        min_length=16,
    )
    jwt_algorithm: str = Field("HS256", description="JWT signing algorithm.")
    jwt_expire_minutes: int = Field(1440, gt=0, description="Session token lifetime in minutes.")
    voxcore_wss_base_url: str = Field(
        description="Public WSS base the console hands telephony clients; in Kubernetes the "
        "call router's, ending in `/w` (inbound carrier calls stream to "
        "`<base>/<worker ip>/<port>/<path>`).",
        examples=["wss://voice.ourplatform.com/ws"],
        pattern=r"^wss?://",
    )
    voxcore_secret: SecretStr | None = Field(
        None,
        description="Shared fleet secret. When set, workers may fetch runtime config with it; "
        "when unset, only per-call tokens are accepted.",
        json_schema_extra=when("workers authenticate with the shared secret"),
    )
    qdrant_url: str | None = Field(
        None,
        description="Qdrant server URL. When unset, the backend runs Qdrant in embedded local "
        "mode on QDRANT_PATH.",
        examples=["http://qdrant:6333"],
    )
    qdrant_path: str = Field(
        "./data/qdrant", description="Directory for Qdrant's embedded local mode."
    )
    otel_service_name: str = Field(
        "ori-backend",
        description="Service name attached to spans.",
        json_schema_extra=when("enabled"),
    )
    signup_enabled: bool = Field(
        True,
        description="Whether anyone may sign up (each signup gets a workspace of their own, as "
        "its admin). Turn off on shared deployments and create accounts with "
        "`ori-backend create-superuser` and the members API.",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins per identity before logins are refused for 15 min."
    )
    max_upload_mb: int = Field(
        50, ge=1, le=1024, description="Largest accepted upload (contact CSV, document) in MiB."
    )
    twilio_auth_token: SecretStr | None = Field(
        None,
        description="Twilio auth token: inbound voice webhooks (`/api/v1/inbound/twilio/...`) "
        "must carry its `X-Twilio-Signature`. Without it they answer 503.",
        json_schema_extra=when("Twilio numbers send their calls to Ori"),
    )
    livekit_api_key: str | None = Field(
        None,
        description="LiveKit API key whose webhooks (`/api/v1/inbound/livekit`) are accepted.",
        json_schema_extra=when("LiveKit SIP numbers send their calls to Ori"),
    )
    livekit_api_secret: SecretStr | None = Field(
        None,
        description="Its secret: LiveKit signs webhooks with it. Without both, the LiveKit "
        "webhook answers 503.",
        json_schema_extra=when("LIVEKIT_API_KEY is set"),
    )
    public_url: str | None = Field(
        None,
        description="The backend's public base URL as carriers call it, for checking webhook "
        "signatures behind a proxy; unset, the URL the request arrived on.",
        examples=["https://api.example.com"],
        pattern=r"^https?://",
    )
    minio_endpoint: str | None = Field(
        None,
        description="Object-storage endpoint as host:port (no scheme), where recordings are. "
        "When unset, recording links answer 503.",
        examples=["localhost:9000"],
        json_schema_extra=when("recordings are played back"),
    )
    minio_access_key: SecretStr | None = Field(
        None, description="Storage access key.", json_schema_extra=when("MINIO_ENDPOINT is set")
    )
    minio_secret_key: SecretStr | None = Field(
        None,
        description="Storage secret key. Keep secret.",
        json_schema_extra=when("MINIO_ENDPOINT is set"),
    )
    minio_secure: bool = Field(False, description="Use TLS to reach the endpoint.")
    minio_region: str = Field("us-east-1", description="Region used to sign recording links.")
    fleet_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="JSON array of worker base URLs for direct outbound calls, polled on "
        "/health for free capacity when Redis holds no idle-worker registrations.",
        examples=['["http://127.0.0.1:8001"]'],
    )
    fleet_pool: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Fleet pool whose idle workers (registered in Redis) take direct calls.",
    )
    embedding_provider: Literal["local", "openai", "voyage"] = Field(
        "local",
        description="Knowledge-base embeddings: `local` (sparse lexical vectors, no key), "
        "`openai` or `voyage`.",
    )
    embedding_model: str | None = Field(
        None,
        description="Embedding model; None: text-embedding-3-small (OpenAI), voyage-3.5 (Voyage).",
    )
    embedding_base_url: str | None = Field(
        None,
        description="Base URL of an API-compatible embeddings server; None: the provider's own.",
        examples=["https://api.openai.com/v1"],
    )
    openai_api_key: SecretStr | None = Field(
        None, description="OpenAI API key.", json_schema_extra=when("EMBEDDING_PROVIDER=openai")
    )
    voyage_api_key: SecretStr | None = Field(
        None, description="Voyage AI API key.", json_schema_extra=when("EMBEDDING_PROVIDER=voyage")
    )

    @field_validator("fleet_urls", mode="before")
    @classmethod
    def _fleet_urls(cls, value: object) -> object:
        return json_url_list(value)

    @field_validator("minio_endpoint")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and ("://" in value or "/" in value):
            raise ValueError("must be host:port without a scheme or path, e.g. localhost:9000")
        return value


@lru_cache(maxsize=1)
def get_settings() -> BackendSettings:
    """Load the backend settings once, exiting with a clear message if they are incomplete."""
    return load_settings(BackendSettings, "ori-backend")

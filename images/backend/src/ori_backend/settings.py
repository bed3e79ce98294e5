"""Backend settings: the only place the backend reads its environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr

from ori_contracts.settings import (
    LogSettings,
    MongoSettings,
    OtelSettings,
    RedisSettings,
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
        description="Public WSS base the console hands telephony clients.",
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


@lru_cache(maxsize=1)
def get_settings() -> BackendSettings:
    """Load the backend settings once, exiting with a clear message if they are incomplete."""
    return load_settings(BackendSettings, "ori-backend")

"""Settings sections shared by Ori's services, and the one way a service loads them.

Variable names are the deployment inventory's names, unprefixed (``MONGODB_URI``, not
``ORI_MONGO__URL``), so an existing ``.env`` keeps working. A section is a ``BaseSettings``
mixin; a service composes the sections it uses into its own settings class and reads it
once, through :func:`load_settings`, at start-up. Nothing else reads the environment.

Each field carries the metadata the generated ``docs/configuration.md`` and ``.env.example``
files are built from: ``description``, an ``examples`` value, and, for variables that are
required only in some set-ups, a ``required_when`` note in ``json_schema_extra``.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal, NoReturn, TypeVar

from pydantic import AnyUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def when(condition: str) -> dict[str, Any]:
    """Mark a field as required only under ``condition`` (shown in the docs)."""
    return {"required_when": condition}


class OriSettings(BaseSettings):
    """Base of every settings section: read the process environment, then ``./.env``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )


class LogSettings(OriSettings):
    """Logging."""

    log_level: LogLevel = Field("INFO", description="Log verbosity.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class MongoSettings(OriSettings):
    """MongoDB, shared by the backend and the dialler."""

    mongodb_uri: str = Field(
        description="MongoDB connection string.", examples=["mongodb://localhost:27017"]
    )
    mongodb_db: str = Field(
        description="Database name. Must be the same for the backend and the dialler.",
        examples=["voxbridge"],
    )

    @field_validator("mongodb_uri")
    @classmethod
    def _mongo_scheme(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value


class RedisSettings(OriSettings):
    """Redis: queues, caches and the fleet's live registrations."""

    redis_url: str = Field(
        description="Redis connection string (queues and config cache).",
        examples=["redis://localhost:6379"],
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class MinioSettings(OriSettings):
    """S3-compatible object storage for call recordings."""

    minio_endpoint: str = Field(
        description="Object-storage endpoint as host:port (no scheme).",
        examples=["localhost:9000"],
    )
    minio_access_key: SecretStr = Field(description="Storage access key.", examples=["ori"])
    minio_secret_key: SecretStr = Field(
        description="Storage secret key. Keep secret.", examples=["change-me-minio-secret"]
    )
    minio_bucket: str = Field(
        description="Bucket recordings are uploaded to.", examples=["recordings"]
    )
    minio_secure: bool = Field(False, description="Use TLS to reach the endpoint.")

    @field_validator("minio_endpoint")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if "://" in value or "/" in value:
            raise ValueError("must be host:port without a scheme or path, e.g. localhost:9000")
        return value


class OtelSettings(OriSettings):
    """OpenTelemetry tracing; off unless ``OTEL_ENABLED=true``."""

    otel_enabled: bool = Field(False, description="Master switch for tracing.")
    otel_protocol: Literal["http/protobuf", "grpc"] = Field(
        "http/protobuf", description="OTLP export protocol.", json_schema_extra=when("enabled")
    )
    otel_endpoint: AnyUrl | None = Field(
        None,
        description="OTLP collector endpoint.",
        examples=["https://otlp.example.com"],
        json_schema_extra=when("enabled"),
    )
    otel_service_name: str = Field(
        "ori", description="Service name attached to spans.", json_schema_extra=when("enabled")
    )
    otel_api_key: SecretStr | None = Field(
        None,
        description="Auth key for the collector, sent as the x-api-key header. Keep secret.",
        json_schema_extra=when("enabled"),
    )
    otel_headers: str | None = Field(
        None,
        description="Extra OTLP headers as comma-separated key=value pairs.",
        examples=["x-tenant=ori"],
    )

    @model_validator(mode="after")
    def _required_when_enabled(self) -> OtelSettings:
        if not self.otel_enabled:
            return self
        missing = [n for n in ("otel_endpoint", "otel_api_key") if getattr(self, n) is None]
        if missing:
            names = ", ".join(m.upper() for m in missing)
            raise ValueError(f"OTEL_ENABLED=true requires {names}")
        return self

    def otlp_headers(self) -> dict[str, str]:
        """The headers to send with every export: the API key plus ``OTEL_HEADERS``."""
        headers = dict(_parse_pairs(self.otel_headers or ""))
        if self.otel_api_key is not None:
            headers.setdefault("x-api-key", self.otel_api_key.get_secret_value())
        return headers


class SharedSecretSettings(OriSettings):
    """The shared secret on the dialler-to-fleet hop (and the fleet-to-backend config fetch)."""

    voxcore_secret: SecretStr = Field(
        description="Shared secret for /attach; must be the same on the dialler and the fleet.",
        examples=["shared-secret-must-match-the-fleet"],
        min_length=16,
    )


class LiveKitSettings(OriSettings):
    """LiveKit server and SIP trunk used to place and receive SIP calls."""

    livekit_url: AnyUrl = Field(
        description="LiveKit server URL.", examples=["wss://livekit.example.com"]
    )
    livekit_api_key: SecretStr = Field(description="LiveKit API key.", examples=["devkey"])
    livekit_api_secret: SecretStr = Field(
        description="LiveKit API secret. Keep secret.", examples=["change-me-livekit-secret"]
    )


def _parse_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def json_url_list(value: object) -> object:
    """Parse a JSON array of URLs given as a string, with an error that shows the expected form."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list):
        raise ValueError(
            'must be a JSON array of URLs, e.g. ["https://fleet-1.example.com"]; '
            "a comma-separated list is not accepted"
        )
    return parsed


S = TypeVar("S", bound=BaseSettings)


def describe_errors(error: ValidationError | SettingsError) -> list[str]:
    """Turn a settings error into one line per variable, each naming the variable."""
    if isinstance(error, SettingsError):
        return [str(error)]
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "settings"
        if item["type"] == "missing":
            lines.append(f"{name} is required but not set")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            lines.append(f"{name} is invalid: {message}")
    return lines


def load_settings(cls: type[S], service: str) -> S:
    """Load ``cls`` from the environment, or exit at once naming every missing or bad variable.

    Args:
        cls: The service's settings class.
        service: The service name used in the message, e.g. ``ori-backend``.

    Returns:
        The validated settings.
    """
    try:
        return cls()
    except (ValidationError, SettingsError) as error:
        _exit_with(service, describe_errors(error))


def _exit_with(service: str, lines: list[str]) -> NoReturn:
    print(f"{service}: cannot start, configuration is incomplete or invalid:", file=sys.stderr)  # noqa: T201
    for line in lines:
        print(f"  - {line}", file=sys.stderr)  # noqa: T201
    print("  (see docs/configuration.md and the service's .env.example)", file=sys.stderr)  # noqa: T201
    raise SystemExit(78)  # EX_CONFIG


__all__ = [
    "LiveKitSettings",
    "LogLevel",
    "LogSettings",
    "MinioSettings",
    "MongoSettings",
    "OriSettings",
    "OtelSettings",
    "RedisSettings",
    "SharedSecretSettings",
    "describe_errors",
    "json_url_list",
    "load_settings",
    "when",
]

"""Dialler settings: the only place the dialler reads its environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import NoDecode

from ori_contracts.settings import (
    LiveKitSettings,
    LogSettings,
    MongoSettings,
    SharedSecretSettings,
    json_url_list,
    load_settings,
)


class DiallerSettings(MongoSettings, SharedSecretSettings, LiveKitSettings, LogSettings):
    """Everything the dialler reads from its environment or ``.env``."""

    fleet_urls: Annotated[list[AnyHttpUrl], NoDecode] = Field(
        description="JSON array of voice-fleet base URLs to attach answered calls to.",
        examples=['["https://fleet.example.com"]'],
        min_length=1,
    )
    livekit_trunk_id: str = Field(
        description="Outbound SIP trunk ID to place calls on.", examples=["ST_xxxxxxxx"]
    )
    loop_interval_seconds: float = Field(2.0, gt=0, description="Seconds between pacing ticks.")
    health_host: str = Field("127.0.0.1", description="Bind address for the health server.")
    health_port: int = Field(8090, ge=1, le=65535, description="Port for /health and /metrics.")
    health_stale_seconds: float = Field(
        30.0, gt=0, description="Tick age after which the dialler reports itself unhealthy."
    )
    stale_in_progress_timeout_minutes: int = Field(
        10, gt=0, description="Reap calls stuck in progress for longer than this."
    )
    metrics_persist_interval_seconds: float = Field(
        15.0, gt=0, description="How often rolling metrics are persisted."
    )
    circuit_failure_threshold: int = Field(
        5, ge=1, description="Consecutive SIP dial failures before the breaker opens."
    )
    circuit_cooldown_seconds: float = Field(
        30.0, gt=0, description="Time the breaker stays open before a trial call."
    )
    circuit_success_threshold: int = Field(
        2, ge=1, description="Successes needed to close the breaker again."
    )

    _fleet_urls_json = field_validator("fleet_urls", mode="before")(json_url_list)


@lru_cache(maxsize=1)
def get_settings() -> DiallerSettings:
    """Load the dialler settings once, exiting with a clear message if they are incomplete."""
    return load_settings(DiallerSettings, "ori-dialler")

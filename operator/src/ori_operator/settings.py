"""Operator settings: the only place the operator reads its environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr

from ori_contracts.settings import LogSettings, RedisSettings, load_settings, when


class OperatorSettings(RedisSettings, LogSettings):
    """Everything the operator reads from its environment or `.env`."""

    watch_namespaces: str = Field(
        "",
        description="Comma-separated namespaces to watch; empty: every namespace.",
        examples=["ori,ori-staging"],
    )
    operator_peering: str = Field(
        "",
        description="kopf peering object shared by an active operator and its standbys; "
        "empty: standalone (one replica, no peering CRDs needed).",
        examples=["ori-operator"],
    )
    operator_priority: int = Field(
        0,
        description="Peering priority: the highest runs, the others stand by. Give each "
        "replica a different one; equal priorities freeze all of them.",
        examples=[100],
        json_schema_extra=when("OPERATOR_PEERING is set"),
    )
    operator_peering_lifetime_s: int = Field(
        60,
        ge=10,
        le=3600,
        description="Seconds a replica's peering keep-alive counts: a standby takes over at most "
        "this long after the active replica died (keep-alives come 5-10 s more often).",
        examples=[30],
        json_schema_extra=when("OPERATOR_PEERING is set"),
    )
    reconcile_interval_s: float = Field(
        2.0,
        gt=0,
        le=300,
        description="Seconds between two reconciles of one FleetPool when nothing wakes it.",
    )
    metrics_port: int = Field(
        9090, ge=0, le=65535, description="Port of /metrics (Prometheus); 0 disables it."
    )
    health_port: int = Field(
        8080, ge=0, le=65535, description="Port of the liveness endpoint /healthz; 0 disables it."
    )
    bind_host: str = Field(
        "0.0.0.0",  # noqa: S104 - probes and scrapes come from outside the pod
        description="Address the metrics and health endpoints listen on.",
        examples=["127.0.0.1"],
    )
    backend_url: str = Field(
        "",
        description="Backend base URL Bot and Campaign resources are synced to; empty: no sync.",
        examples=["http://ori-backend:8080"],
    )
    backend_resync_interval_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="Seconds between two syncs of an unchanged Bot: corrects drift in the backend.",
    )
    backend_token: SecretStr | None = Field(
        None,
        description="Bearer token (an operator API key) for the backend. Keep secret.",
        json_schema_extra=when("BACKEND_URL is set"),
    )

    def namespaces(self) -> list[str]:
        """The namespaces to watch; empty for all of them."""
        return [name.strip() for name in self.watch_namespaces.split(",") if name.strip()]


@lru_cache(maxsize=1)
def get_settings() -> OperatorSettings:
    """Load the operator settings once, exiting with a clear message if they are incomplete."""
    return load_settings(OperatorSettings, "ori-operator")

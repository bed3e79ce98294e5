"""`FleetPool`: a pool of single-call worker pods the operator owns directly.

`spec.replicas` is behind the `/scale` subresource and belongs to a user or KEDA; the operator
never writes it. The operator creates and deletes the pods itself (no Deployment, so no
ReplicaSet picks which call dies): scale-down deletes idle workers only, and a busy worker is
marked draining and removed when its call ends.
"""

import re
from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from ori_contracts.base import ContractModel, JsonObject
from ori_contracts.crds.common import (
    Condition,
    CustomResource,
    PrinterColumn,
    ScaleSubresource,
    cel,
    condition_column,
)
from ori_contracts.tools import SecretRef

__all__ = [
    "FLEETPOOL",
    "FLEETPOOL_LABEL",
    "DRAINING_LABEL",
    "FleetPoolKeda",
    "FleetPoolSpec",
    "FleetPoolStatus",
    "ImagePullPolicy",
    "ResourceRequirements",
    "WorkerTemplate",
]

FLEETPOOL_LABEL: Final = "ori.dev/fleetpool"
"""Pod label naming the pool a worker belongs to; `status.selector` selects on it."""
DRAINING_LABEL: Final = "ori.dev/draining"
"""Pod label set to `"true"` on a busy worker that goes away once its call ends."""

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
Quantity = Annotated[
    int | str,
    Field(
        description="A Kubernetes quantity, e.g. `500m`, `1`, `2Gi`.",
    ),
]

_CREDENTIAL_ENV = "(?i).*(API_?KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL).*"
DEFAULT_MIN_REPLICAS: Final = 0
DEFAULT_MAX_REPLICAS: Final = 100
# Defaults are applied by the models, not the API server, so the rules default absent fields.
_MIN = f"(has(self.min_replicas) ? self.min_replicas : {DEFAULT_MIN_REPLICAS})"
_MAX = f"(has(self.max_replicas) ? self.max_replicas : {DEFAULT_MAX_REPLICAS})"


class ImagePullPolicy(StrEnum):
    """When the kubelet pulls the worker image."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class ResourceRequirements(ContractModel):
    """CPU and memory for each worker container (`requests` and `limits`, as in a Pod)."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=16,
        description="Resources the scheduler reserves, e.g. `{cpu: 500m, memory: 1Gi}`.",
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=16,
        description="Hard caps, e.g. `{memory: 2Gi}`.",
    )


class WorkerTemplate(ContractModel):
    """What each worker pod runs. Changing it affects pods created afterwards only."""

    image: str = Field(
        min_length=1,
        max_length=512,
        description="Worker image, e.g. `ghcr.io/ori-voice/ori-worker:0.1.0`.",
    )
    image_pull_policy: ImagePullPolicy = Field(
        default=ImagePullPolicy.IF_NOT_PRESENT, description="When to pull the image."
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="Port the worker serves calls and /health on."
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        max_length=128,
        description=(
            "Plain environment variables for the worker (`LOG_LEVEL`, `VOXBRIDGE_CONFIG_URL`, "
            "...). Credentials are refused here: use `provider_secrets`."
        ),
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    f"self.all(k, !k.matches('{_CREDENTIAL_ENV}'))",
                    "env must not carry credentials inline (API keys, secrets, tokens, "
                    "passwords); reference a Secret in provider_secrets instead",
                )
            ]
        },
    )
    provider_secrets: dict[EnvName, SecretRef] = Field(
        default_factory=dict,
        max_length=64,
        description=(
            "Environment variables read from Secrets, e.g. "
            "`DEEPGRAM_API_KEY: {name: ori-providers, key: deepgram}`. The only way a "
            "credential reaches a worker."
        ),
    )
    resources: ResourceRequirements = Field(
        default_factory=ResourceRequirements, description="Container resources."
    )
    service_account_name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="ServiceAccount the worker pods run as; None: the namespace default.",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Node labels a worker must run on."
    )
    tolerations: list[JsonObject] = Field(
        default_factory=list,
        max_length=32,
        description="Pod tolerations, exactly as in a Pod spec.",
    )
    priority_class_name: str | None = Field(
        default=None, max_length=253, description="PriorityClass of the worker pods."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Extra labels on every worker pod."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Extra annotations on every worker pod."
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list, max_length=8, description="Names of image pull Secrets."
    )

    @field_validator("env")
    @classmethod
    def _no_inline_credentials(cls, env: dict[str, str]) -> dict[str, str]:
        inline = sorted(name for name in env if re.fullmatch(_CREDENTIAL_ENV, name))
        if inline:
            raise ValueError(
                f"env must not carry credentials inline ({', '.join(inline)}); reference a "
                "Secret in provider_secrets instead"
            )
        return env


class FleetPoolKeda(ContractModel):
    """How the Helm chart's KEDA ScaledObject scales this pool (read by the chart, not KEDA)."""

    enabled: bool = Field(default=False, description="Render a ScaledObject for this pool.")
    polling_interval_s: int = Field(
        default=5, ge=1, le=3600, description="How often KEDA reads the active-call count."
    )
    cooldown_s: int = Field(
        default=300, ge=0, le=86400, description="Quiet time before scaling back to zero."
    )


class FleetPoolSpec(ContractModel):
    """The desired pool: how many workers, their bounds, buffer and template."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    f"{_MIN} <= {_MAX}",
                    "min_replicas must be less than or equal to max_replicas",
                    field_path=".min_replicas",
                ),
                cel(
                    f"!has(self.replicas) || (self.replicas >= {_MIN} && self.replicas <= {_MAX})",
                    "replicas must be between min_replicas and max_replicas",
                    field_path=".replicas",
                ),
            ]
        }
    )

    replicas: int | None = Field(
        default=None,
        ge=0,
        le=10000,
        description=(
            "Workers wanted (idle + busy), written by a user, `kubectl scale` or KEDA through "
            "`/scale`. Absent: `min_replicas`. Leave it out of GitOps manifests when KEDA owns "
            "it. The operator never writes it."
        ),
    )
    min_replicas: int = Field(
        default=DEFAULT_MIN_REPLICAS, ge=0, le=10000, description="Fewest workers allowed."
    )
    max_replicas: int = Field(
        default=DEFAULT_MAX_REPLICAS, ge=1, le=10000, description="Most workers allowed."
    )
    idle_buffer: int = Field(
        default=1,
        ge=0,
        le=1000,
        description=(
            "Warm idle workers kept above the active calls (KEDA formula `active + buffer`); "
            "a pod takes tens of seconds to start and a ringing phone does not wait."
        ),
    )
    drain_timeout_s: int = Field(
        default=3600,
        ge=0,
        le=86400,
        description=(
            "Longest a draining worker may keep its call before it is deleted anyway; also "
            "the pods' termination grace period. Size it to the longest call."
        ),
    )
    template: WorkerTemplate = Field(description="What each worker pod runs.")
    keda: FleetPoolKeda = Field(
        default_factory=FleetPoolKeda, description="KEDA autoscaling, rendered by the chart."
    )

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must be less than or equal to max_replicas")
        if self.replicas is not None and not (
            self.min_replicas <= self.replicas <= self.max_replicas
        ):
            raise ValueError("replicas must be between min_replicas and max_replicas")
        return self

    def desired_replicas(self) -> int:
        """`replicas` defaulted to `min_replicas` and clamped to the bounds."""
        wanted = self.min_replicas if self.replicas is None else self.replicas
        return max(self.min_replicas, min(self.max_replicas, wanted))


class FleetPoolStatus(ContractModel):
    """What the operator observed, from the pool's pods and the workers' Redis registrations."""

    observed_generation: int | None = Field(
        default=None,
        alias="observedGeneration",
        description="The `metadata.generation` this status was computed from.",
    )
    replicas: int = Field(
        default=0,
        description="Workers counted toward `spec.replicas`: not draining, not terminating.",
    )
    ready: int = Field(default=0, description="Of those, pods that are Ready.")
    idle: int = Field(default=0, description="Registered workers waiting for a call.")
    busy: int = Field(default=0, description="Registered workers on a call (draining excluded).")
    draining: int = Field(default=0, description="Busy workers that go away when their call ends.")
    selector: str = Field(default="", description="Label selector of the pool's pods (`/scale`).")
    desired: int = Field(default=0, description="`spec.replicas` after defaulting and bounds.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="`Ready` (desired workers exist and are Ready), `Draining`.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )


FLEETPOOL: Final = CustomResource(
    kind="FleetPool",
    plural="fleetpools",
    description=(
        "A pool of single-call worker pods, owned directly by the Ori operator. Scale it with "
        "`kubectl scale` or KEDA; only idle workers are ever deleted."
    ),
    spec=FleetPoolSpec,
    status=FleetPoolStatus,
    short_names=("fp",),
    scale=ScaleSubresource(),
    printer_columns=(
        PrinterColumn("Desired", ".spec.replicas", "integer", "spec.replicas"),
        PrinterColumn("Replicas", ".status.replicas", "integer", "Workers not draining."),
        PrinterColumn("Ready", ".status.ready", "integer", "Ready worker pods."),
        PrinterColumn("Idle", ".status.idle", "integer", "Workers waiting for a call."),
        PrinterColumn("Busy", ".status.busy", "integer", "Workers on a call."),
        PrinterColumn("Draining", ".status.draining", "integer", "Busy workers going away."),
        condition_column("Ready", priority=1),
        PrinterColumn("Age", ".metadata.creationTimestamp", "date"),
    ),
)

"""Pieces every Ori custom resource shares: the API group, conditions and object references.

Field-name convention: Ori's own fields are spelled as in the backend API and
`RuntimeConfig` (snake_case), so a bot block moves between a `Bot` resource,
`POST /api/v1/bots` and a runtime config unchanged. Kubernetes' own shapes keep Kubernetes'
spelling (`conditions[].lastTransitionTime`, `status.observedGeneration`), because generic
tools (`kubectl wait`, kstatus, Argo CD health checks) read them by those names.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import Field
from pydantic.config import JsonDict

from ori_contracts.base import ContractModel

__all__ = [
    "API_VERSION",
    "GROUP",
    "K8S_NAME_PATTERN",
    "VERSION",
    "Condition",
    "ConditionStatus",
    "ConfigMapKeyRef",
    "CustomResource",
    "LocalObjectRef",
    "PrinterColumn",
    "ScaleSubresource",
    "cel",
    "condition_column",
]

GROUP: Final = "ori.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

K8S_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
"""A DNS-1123 label: what a Kubernetes object of most kinds may be named."""


def cel(rule: str, message: str, *, field_path: str | None = None) -> JsonDict:
    """One `x-kubernetes-validations` entry: a CEL rule the API server checks at apply time.

    Args:
        rule: The CEL expression; `self` is the object it is attached to.
        message: What `kubectl apply` prints when the rule fails.
        field_path: The field the error is reported on (e.g. `.max_replicas`).

    Returns:
        The entry, as the CRD schema holds it.
    """
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


class ConditionStatus(StrEnum):
    """A condition's status, as in `metav1.Condition`."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ContractModel):
    """One observation of an object's state (`metav1.Condition`)."""

    type: str = Field(
        pattern=r"^[A-Z][A-Za-z0-9]{0,63}$", description="Condition type, e.g. `Ready`."
    )
    status: ConditionStatus = Field(description="`True`, `False` or `Unknown`.")
    reason: str = Field(
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        max_length=1024,
        description="Why the condition has this status, CamelCase, e.g. `WorkersStarting`.",
    )
    message: str = Field(
        default="", max_length=32768, description="What a human should know, in a sentence."
    )
    last_transition_time: datetime = Field(
        alias="lastTransitionTime", description="When `status` last changed."
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        alias="observedGeneration",
        description="The `metadata.generation` this condition was computed from.",
    )

    @classmethod
    def now(
        cls, type_: str, status: ConditionStatus, reason: str, message: str, generation: int | None
    ) -> "Condition":
        """Build a condition stamped with the current time."""
        return cls(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=datetime.now(UTC).replace(microsecond=0),
            observed_generation=generation,
        )


class LocalObjectRef(ContractModel):
    """A reference to another object in the same namespace, by name."""

    name: str = Field(pattern=K8S_NAME_PATTERN, description="Name of the object.")


class ConfigMapKeyRef(ContractModel):
    """One key of a ConfigMap in the same namespace."""

    name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", description="ConfigMap name."
    )
    key: str = Field(pattern=r"^[-._A-Za-z0-9]{1,253}$", description="Key inside the ConfigMap.")


@dataclass(frozen=True)
class PrinterColumn:
    """A column `kubectl get` prints for the resource."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def render(self) -> dict[str, Any]:
        """The `additionalPrinterColumns` entry."""
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


def condition_column(condition: str, *, priority: int = 0) -> PrinterColumn:
    """A printer column showing one condition's status."""
    return PrinterColumn(
        condition,
        f'.status.conditions[?(@.type=="{condition}")].status',
        description=f"Status of the {condition} condition.",
        priority=priority,
    )


@dataclass(frozen=True)
class ScaleSubresource:
    """The `/scale` subresource: where HPA and KEDA read and write the replica count."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str = ".status.selector"


@dataclass(frozen=True)
class CustomResource:
    """Everything the CRD generator needs to know about one kind."""

    kind: str
    plural: str
    description: str
    spec: type[ContractModel]
    status: type[ContractModel]
    short_names: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    scale: ScaleSubresource | None = None
    categories: tuple[str, ...] = ("ori",)

    @property
    def singular(self) -> str:
        """The lowercase singular name."""
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        """The CRD's own name, `<plural>.<group>`."""
        return f"{self.plural}.{GROUP}"

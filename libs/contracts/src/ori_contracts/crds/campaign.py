"""`Campaign`: an outbound calling campaign (`ori_contracts.campaign`), as a resource.

Pacing, retries and calling windows are the backend's own `PacingPolicy`, `RetryPolicy` and
`CallingWindow`; the bot and the fleet pool are named as resources (`bot_ref`,
`fleet_pool_ref`) and the contacts come from a ConfigMap, a Secret or an uploaded list. The
operator syncs it into the backend and copies progress back into its status; one dialler
replica at a time paces it, while it holds the campaign's Redis lease
(`redis_keys.campaign_lease`).
"""

from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from ori_contracts import campaign
from ori_contracts.base import ContractModel
from ori_contracts.crds.common import (
    Condition,
    ConfigMapKeyRef,
    CustomResource,
    LocalObjectRef,
    PrinterColumn,
    cel,
    condition_column,
)
from ori_contracts.ids import E164
from ori_contracts.tools import SecretRef

__all__ = [
    "CAMPAIGN",
    "CallingWindow",
    "CampaignProgress",
    "CampaignSpec",
    "CampaignStatus",
    "ContactsSource",
    "DesiredCampaignState",
]


class DesiredCampaignState(StrEnum):
    """What the campaign should be doing (the backend adds `draft` and `completed`)."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class CallingWindow(campaign.CallingWindow):
    """The backend's calling window, with its order rule checked at apply time too."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.start) || !has(self.end) || self.start < self.end",
                    "a calling window must start before it ends (HH:MM, 24-hour clock)",
                )
            ]
        }
    )


class ContactsSource(ContractModel):
    """Where the contact list comes from: exactly one of the three."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.config_map_ref), has(self.secret_ref), has(self.list_id)]"
                    ".filter(x, x).size() == 1",
                    "contacts needs exactly one of config_map_ref, secret_ref or list_id",
                )
            ]
        }
    )

    config_map_ref: ConfigMapKeyRef | None = Field(
        default=None, description="A CSV (header row first) in a ConfigMap key."
    )
    secret_ref: SecretRef | None = Field(
        default=None, description="A CSV in a Secret key, for lists holding personal data."
    )
    list_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="The id of a contact list already uploaded to the backend.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [self.config_map_ref, self.secret_ref, self.list_id]
        if sum(item is not None for item in given) != 1:
            raise ValueError("contacts needs exactly one of config_map_ref, secret_ref or list_id")
        return self


class CampaignSpec(ContractModel):
    """Who to call, with which bot and workers, when, how fast, and whether to run."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Name shown in the console; unset: the resource's name."
    )
    bot_ref: LocalObjectRef = Field(description="The `Bot` that talks.")
    fleet_pool_ref: LocalObjectRef = Field(description="The `FleetPool` whose workers run calls.")
    caller_id: E164 = Field(description="Number shown to the called party, E.164.")
    contacts: ContactsSource = Field(description="The contact list.")
    default_timezone: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
        description="IANA zone for contacts whose zone is neither given nor inferable.",
    )
    calling_windows: list[CallingWindow] = Field(
        default_factory=lambda: [CallingWindow()],
        min_length=1,
        max_length=14,
        description="When contacts may be called, in their local time (default: weekdays "
        "09:00-20:00).",
    )
    pacing: campaign.PacingPolicy = Field(
        default_factory=campaign.PacingPolicy, description="Pacing limits."
    )
    retry: campaign.RetryPolicy = Field(
        default_factory=campaign.RetryPolicy, description="Retry policy."
    )
    state: DesiredCampaignState = Field(
        default=DesiredCampaignState.RUNNING, description="Desired state."
    )

    def for_backend(self, resource_name: str, bot_id: str) -> campaign.CampaignSpec:
        """The backend's campaign definition, once the Bot's backend id is known."""
        return campaign.CampaignSpec(
            name=self.name or resource_name,
            bot_id=bot_id,
            caller_id=self.caller_id,
            default_timezone=self.default_timezone,
            calling_windows=[campaign.CallingWindow(**w.model_dump()) for w in self.calling_windows],
            pacing=self.pacing,
            retry=self.retry,
            fleet_pool=self.fleet_pool_ref.name,
        )


class CampaignProgress(ContractModel):
    """Counts of the campaign's contacts, copied from the backend."""

    total: int = Field(default=0, ge=0, description="Contacts in the campaign.")
    pending: int = Field(default=0, ge=0, description="Not called yet, or waiting for a retry.")
    in_progress: int = Field(default=0, ge=0, description="On a call now.")
    done: int = Field(default=0, ge=0, description="Finished with a terminal outcome.")
    failed: int = Field(default=0, ge=0, description="Out of attempts without success.")


class CampaignStatus(ContractModel):
    """Where the campaign stands."""

    observed_generation: int | None = Field(
        default=None,
        alias="observedGeneration",
        description="The `metadata.generation` this status was computed from.",
    )
    backend_id: str | None = Field(default=None, description="The campaign's id in the backend.")
    state: str | None = Field(default=None, description="The backend's state of the campaign.")
    progress: CampaignProgress = Field(
        default_factory=CampaignProgress, description="Contact counts."
    )
    abandonment_rate: float | None = Field(
        default=None,
        description="Abandoned share of live answers so far, when the backend reports it.",
    )
    lease_holder: str | None = Field(
        default=None, description="The dialler replica pacing the campaign now."
    )
    contacts_imported: int | None = Field(
        default=None,
        description="Contacts the last import of the ConfigMap's or Secret's list added.",
    )
    contacts_skipped: int | None = Field(
        default=None,
        description="Rows of that list already in the campaign, left as they are.",
    )
    contacts_withdrawn: int | None = Field(
        default=None,
        description="Pending contacts that import withdrew: their numbers left the list.",
    )
    contacts_invalid_rows: int | None = Field(
        default=None,
        description="Rows of the current list the backend refused (nothing of it was "
        "imported; condition `ContactsImported` names the first problems); 0 once imported.",
    )
    contacts_digest: str | None = Field(
        default=None,
        description="SHA-256 of the last list imported or refused. A list with another digest "
        "is imported again: new rows are added, rows already in the campaign are skipped, rows "
        "removed from the list stay in the campaign.",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="`Ready` (valid, references resolve), `Synced` (backend up to date) and "
        "`ContactsImported` (the ConfigMap's or Secret's current list is in the backend).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )


CAMPAIGN: Final = CustomResource(
    kind="Campaign",
    plural="campaigns",
    description=(
        "An outbound calling campaign: a contact list called by a Bot on a FleetPool's "
        "workers, within calling windows, paced and retried."
    ),
    spec=CampaignSpec,
    status=CampaignStatus,
    short_names=("camp",),
    printer_columns=(
        PrinterColumn("State", ".spec.state"),
        PrinterColumn("Bot", ".spec.bot_ref.name"),
        PrinterColumn("Pool", ".spec.fleet_pool_ref.name"),
        PrinterColumn("Total", ".status.progress.total", "integer", "Contacts."),
        PrinterColumn("Done", ".status.progress.done", "integer", "Contacts finished."),
        PrinterColumn("Lease", ".status.lease_holder", description="Dialler replica.", priority=1),
        condition_column("Ready"),
        PrinterColumn("Age", ".metadata.creationTimestamp", "date"),
    ),
)

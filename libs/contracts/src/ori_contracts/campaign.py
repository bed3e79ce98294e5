"""Campaigns: the policy fields the dialler paces by, the states, and the shared Mongo shapes.

The backend owns campaigns and their contacts; the dialler reads them from the same MongoDB
database (``MONGODB_DB``). The collection names and document shapes both sides rely on are
defined here: ``campaigns`` documents hold a :class:`CampaignSpec` plus ``state`` and ids;
``campaign_contacts`` documents are :class:`CampaignContact`.

The operator writes campaigns through ``PUT {CAMPAIGNS_BY_REF_PATH}/{namespace}.{name}`` with a
:class:`CampaignSpec` body and gets a :class:`CampaignSyncResult` (idempotent: the campaign id
is derived from the workspace and the reference); it imports contacts with an
``Idempotency-Key`` (:data:`IDEMPOTENCY_KEY_HEADER`) so a repeated import answers the first
one's result (a :class:`ContactImportResult`), and with ``existing=skip``
(:class:`ExistingContacts`) so an edited list adds only its new rows. See ``docs/api.md``.

State machine (:data:`CAMPAIGN_TRANSITIONS`)::

    draft -> running | stopped
    running -> paused | completed | stopped
    paused -> running | stopped
    completed, stopped: final
"""

from datetime import time
from enum import StrEnum
from typing import Final, Self

from pydantic import Field, field_validator, model_validator

from ori_contracts.base import ContractModel, JsonObject, UtcDatetime
from ori_contracts.call_result import CallOutcome
from ori_contracts.ids import E164, BotId, CampaignId, ContactId, WorkspaceId

__all__ = [
    "CAMPAIGNS_BY_REF_PATH",
    "CAMPAIGNS_COLLECTION",
    "CAMPAIGN_CONTACTS_COLLECTION",
    "CAMPAIGN_TRANSITIONS",
    "CallingWindow",
    "CampaignContact",
    "CampaignSpec",
    "CampaignState",
    "CampaignSyncResult",
    "ContactImportResult",
    "ContactStatus",
    "EXISTING_CONTACTS_PARAM",
    "ExistingContacts",
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENCY_KEY_PATTERN",
    "PacingPolicy",
    "RetryPolicy",
]

CAMPAIGNS_COLLECTION: Final = "campaigns"
CAMPAIGN_CONTACTS_COLLECTION: Final = "campaign_contacts"

CAMPAIGNS_BY_REF_PATH: Final = "/api/v1/campaigns/by-ref"
"""Backend path prefix of the operator's idempotent campaign upsert (``/{namespace}.{name}``)."""

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
"""Header making a contact import repeatable: the same key answers the first import's result."""

IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,200}$"
"""What an idempotency key may look like (e.g. a SHA-256 hex digest of the file)."""

EXISTING_CONTACTS_PARAM: Final = "existing"
"""Query parameter of a contact import saying what to do with rows already in the campaign."""


class CampaignState(StrEnum):
    """Where a campaign is in its life."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"


CAMPAIGN_TRANSITIONS: Final[dict[CampaignState, frozenset[CampaignState]]] = {
    CampaignState.DRAFT: frozenset({CampaignState.RUNNING, CampaignState.STOPPED}),
    CampaignState.RUNNING: frozenset(
        {CampaignState.PAUSED, CampaignState.COMPLETED, CampaignState.STOPPED}
    ),
    CampaignState.PAUSED: frozenset({CampaignState.RUNNING, CampaignState.STOPPED}),
    CampaignState.COMPLETED: frozenset(),
    CampaignState.STOPPED: frozenset(),
}
"""Allowed state changes; anything else is refused."""


class CallingWindow(ContractModel):
    """Local times (in the contact's time zone) during which the contact may be called."""

    days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        min_length=1,
        description="Weekdays, 0 = Monday ... 6 = Sunday.",
    )
    start: time = Field(default=time(9, 0), description="Local start time, e.g. `09:00`.")
    end: time = Field(default=time(20, 0), description="Local end time (exclusive), e.g. `20:00`.")

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a calling-window time is local to the contact: no UTC offset")
        return value

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if any(not 0 <= day <= 6 for day in self.days):
            raise ValueError("days must be between 0 (Monday) and 6 (Sunday)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PacingPolicy(ContractModel):
    """How fast the dialler may place calls for the campaign."""

    max_concurrent_calls: int = Field(
        default=10, ge=1, le=10_000, description="Live calls the campaign may hold at once."
    )
    calls_per_second: float = Field(
        default=1.0, gt=0.0, le=100.0, description="Carrier limit on call attempts per second."
    )
    dial_ratio: float = Field(
        default=1.0,
        ge=1.0,
        le=5.0,
        description="Calls dialled per free worker (predictive dialling above 1.0).",
    )
    max_abandon_rate: float = Field(
        default=0.03, ge=0.0, le=1.0, description="Highest tolerated share of abandoned calls."
    )


class RetryPolicy(ContractModel):
    """When a contact is tried again."""

    max_attempts: int = Field(default=3, ge=1, le=20, description="Attempts per contact, total.")
    retry_after_s: int = Field(
        default=3600, ge=60, le=7 * 86400, description="Wait before the next attempt."
    )
    retry_on: list[CallOutcome] = Field(
        default_factory=lambda: [CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.FAILED],
        description="Outcomes that make the contact eligible for another attempt.",
    )


class CampaignSpec(ContractModel):
    """A campaign's definition (everything but its state, ids and contacts)."""

    name: str = Field(min_length=1, max_length=200, description="Human-readable name.")
    bot_id: BotId = Field(description="The bot that runs the calls.")
    caller_id: E164 | None = Field(default=None, description="Number presented to contacts.")
    default_timezone: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
        description="IANA zone for contacts whose zone is neither given nor inferable.",
    )
    calling_windows: list[CallingWindow] = Field(
        default_factory=lambda: [CallingWindow()],
        min_length=1,
        description="When contacts may be called, in their local time.",
    )
    pacing: PacingPolicy = Field(default_factory=PacingPolicy, description="Pacing limits.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy.")
    fleet_pool: str | None = Field(
        default=None, max_length=128, description="Fleet pool to place calls on; None: default."
    )


class ContactStatus(StrEnum):
    """Where a contact is in the campaign."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


class CampaignContact(ContractModel):
    """One contact of a campaign, as stored in ``campaign_contacts``."""

    id: ContactId = Field(description="Contact id, unique within the campaign.")
    campaign_id: CampaignId = Field(description="The campaign.")
    workspace_id: WorkspaceId = Field(description="Owning workspace.")
    phone: E164 = Field(description="Number to call, E.164.")
    name: str | None = Field(default=None, description="Name to address the contact by.")
    timezone: str = Field(description="IANA zone the calling windows are applied in.")
    custom_fields: JsonObject = Field(default_factory=dict, description="Other CSV columns.")
    status: ContactStatus = Field(default=ContactStatus.PENDING, description="Progress.")
    attempts: int = Field(default=0, ge=0, description="Calls placed so far.")
    next_attempt_at: UtcDatetime | None = Field(
        default=None, description="Earliest next attempt; None: as soon as a window opens."
    )
    last_outcome: CallOutcome | None = Field(default=None, description="Last call's outcome.")
    last_call_id: str | None = Field(default=None, description="Last call placed.")


class CampaignSyncResult(ContractModel):
    """The backend's answer to an operator's campaign upsert."""

    id: str = Field(description="The backend's campaign id.")
    state: CampaignState = Field(description="The campaign's state after the upsert.")
    created: bool = Field(description="Whether this upsert created the campaign.")
    changed: bool = Field(
        description="Whether the definition was changed (false: same spec, or a final campaign)."
    )


class ExistingContacts(StrEnum):
    """What a contact import does with a row whose number or id is already in the campaign."""

    ERROR = "error"
    """Refuse it (the whole file): the default for people uploading more contacts."""
    SKIP = "skip"
    """Keep the contact as it is and count the row as skipped: importing a full list again
    adds only its new rows."""
    SYNC = "sync"
    """The file is the whole list: rows already in the campaign are skipped as with ``skip``,
    and contacts not in the file that are still ``pending`` (never called, or waiting for a
    retry) are withdrawn from the campaign; those called or being called stay, with their
    records. The operator imports an edited ConfigMap or Secret this way."""


class ContactImportResult(ContractModel):
    """The backend's answer to a committed (or replayed) contact import."""

    import_id: str = Field(description="The import.")
    imported: int = Field(ge=0, description="Contacts added.")
    skipped: int = Field(
        default=0,
        ge=0,
        description="Rows already in the campaign, left as they are (`existing=skip` or `sync`).",
    )
    withdrawn: int = Field(
        default=0,
        ge=0,
        description="Pending contacts not in the file, withdrawn (with `existing=sync`).",
    )
    replayed: bool = Field(
        default=False,
        description="True: the answer of an earlier import with the same `Idempotency-Key`.",
    )

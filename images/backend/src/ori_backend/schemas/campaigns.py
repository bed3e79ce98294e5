"""Campaigns, their contacts, progress and the do-not-call list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ori_contracts.campaign import CampaignSpec, CampaignState, ContactImportResult
from ori_contracts.ids import E164

__all__ = [
    "CampaignProgress",
    "CampaignPublic",
    "CampaignStateChange",
    "ContactImported",
    "ContactPublic",
    "DncCreate",
    "DncPublic",
]


class CampaignProgress(BaseModel):
    """Live contact counts."""

    total: int = Field(description="Contacts in the campaign.")
    pending: int = Field(description="Not called yet, or waiting for a retry.")
    in_progress: int = Field(description="Being called now.")
    done: int = Field(description="Finished.")
    failed: int = Field(description="Gave up (attempts exhausted).")


class CampaignPublic(CampaignSpec):
    """A campaign with its state and live progress."""

    id: str = Field(description="Campaign id.")
    state: CampaignState = Field(description="draft, running, paused, completed or stopped.")
    created_at: datetime = Field(description="When it was created.")
    updated_at: datetime = Field(description="Last change.")
    progress: CampaignProgress | None = Field(default=None, description="Live counts.")
    managed_by: str = Field(
        default="api", description="`api`, or `kubernetes` for a `Campaign` resource's campaign."
    )
    read_only: bool = Field(
        default=False, description="Managed from Kubernetes: only the operator may change it."
    )
    external_ref: str | None = Field(
        default=None, description="`<namespace>.<name>` of the `Campaign` resource, if any."
    )


class CampaignStateChange(BaseModel):
    """Move the campaign to another state."""

    state: CampaignState = Field(description="Target state.")


class ContactImported(ContactImportResult):
    """A committed contact import (`ori_contracts.campaign.ContactImportResult`)."""


class ContactPublic(BaseModel):
    """A contact of a campaign."""

    id: str = Field(description="Contact id.")
    phone: str = Field(description="E.164 number.")
    name: str | None = Field(default=None, description="Name.")
    timezone: str = Field(description="IANA time zone.")
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="Other columns.")
    status: str = Field(description="pending, in_progress, done or failed.")
    attempts: int = Field(description="Calls placed so far.")
    last_outcome: str | None = Field(default=None, description="Last call's outcome.")


class DncCreate(BaseModel):
    """Numbers to add to the do-not-call list."""

    numbers: list[E164] = Field(min_length=1, max_length=10_000, description="E.164 numbers.")


class DncPublic(BaseModel):
    """A do-not-call entry."""

    phone: str = Field(description="E.164 number.")
    added_at: datetime = Field(description="When it was added.")

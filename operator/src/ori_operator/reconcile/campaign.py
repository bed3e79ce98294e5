"""Campaign decisions and status (pure): state transitions, progress, contacts, conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ori_contracts.campaign import CAMPAIGN_TRANSITIONS, CampaignState, ContactImportResult
from ori_contracts.crds import (
    CampaignProgress,
    CampaignStatus,
    ConditionStatus,
    DesiredCampaignState,
)
from ori_operator.reconcile.conditions import set_condition

__all__ = [
    "CONTACTS_CONDITION",
    "LOOP_CONDITIONS",
    "ContactsImport",
    "contacts_refused",
    "not_ready",
    "settled",
    "synced",
    "transitions",
    "unsynced",
    "uploaded_list",
    "with_contacts",
]

CONTACTS_CONDITION: Final = "ContactsImported"


LOOP_CONDITIONS: Final = ("Ready", "Synced")
"""The conditions whose falsity makes the sync loop look again soon (bot, pool, backend)."""


def settled(status: CampaignStatus) -> bool:
    """Whether the sync is done until the next change or resync: Ready and Synced are True.

    Anything else waits on a bot, a pool or the backend and is retried soon.
    """
    return all(
        c.status is ConditionStatus.TRUE for c in status.conditions if c.type in LOOP_CONDITIONS
    )


def transitions(
    current: CampaignState, desired: DesiredCampaignState, *, contacts_refused: bool = False
) -> list[CampaignState]:
    """The state changes to request, in order, to move the backend toward `desired`.

    A draft campaign that should be paused stays a draft (it was never started), and so does
    one whose contact list the backend refused (it would run without its contacts); completed
    and stopped are final.
    """
    target = CampaignState(desired.value)
    if current == target or target not in CAMPAIGN_TRANSITIONS[current]:
        return []
    if contacts_refused and current is CampaignState.DRAFT and target is CampaignState.RUNNING:
        return []
    return [target]


@dataclass(frozen=True)
class ContactsImport:
    """What became of one contact list (a ConfigMap's or Secret's CSV) in the backend."""

    digest: str
    """SHA-256 of the CSV."""
    result: ContactImportResult | None = None
    """The backend's answer; None when it refused the list."""
    invalid_rows: int | None = None
    """Rows the refusal names (None: the file as a whole, e.g. no phone column)."""
    problem: str = ""
    """The refusal, as the backend worded it, with its first row problems."""


def with_contacts(
    previous: CampaignStatus, outcome: ContactsImport, *, generation: int | None, now: datetime
) -> CampaignStatus:
    """Record a list's import (or its refusal) and the `ContactsImported` condition."""
    result = outcome.result
    if result is None:
        reason = "InvalidRows" if outcome.invalid_rows else "InvalidList"
        conditions = set_condition(previous.conditions, CONTACTS_CONDITION, ConditionStatus.FALSE,
                                   reason, f"nothing was imported: {outcome.problem}"[:2000],
                                   generation=generation, now=now)  # fmt: skip
        update: dict[str, Any] = {"contacts_invalid_rows": outcome.invalid_rows}
    else:
        earlier = " (by an earlier import of the same list)" if result.replayed else ""
        message = (f"{result.imported} contact(s) added, {result.skipped} already in the "
                   f"campaign, {result.withdrawn} pending withdrawn{earlier}")  # fmt: skip
        conditions = set_condition(previous.conditions, CONTACTS_CONDITION, ConditionStatus.TRUE,
                                   "Imported", message, generation=generation, now=now)  # fmt: skip
        update = {"contacts_imported": result.imported, "contacts_skipped": result.skipped,
                  "contacts_withdrawn": result.withdrawn, "contacts_invalid_rows": 0}  # fmt: skip
    return previous.model_copy(
        update={**update, "contacts_digest": outcome.digest, "conditions": conditions}
    )


def uploaded_list(
    previous: CampaignStatus, list_id: str, *, generation: int | None, now: datetime
) -> CampaignStatus:
    """The contacts come from a list uploaded through the API: the operator imports none."""
    message = f"contacts come from list {list_id}, uploaded through the API"
    conditions = set_condition(previous.conditions, CONTACTS_CONDITION, ConditionStatus.TRUE,
                               "UploadedList", message, generation=generation, now=now)  # fmt: skip
    return previous.model_copy(update={"conditions": conditions})


def contacts_refused(status: CampaignStatus) -> bool:
    """Whether the backend refused the current contact list (it stays refused until edited)."""
    return any(
        c.type == CONTACTS_CONDITION and c.status is ConditionStatus.FALSE
        for c in status.conditions
    )


def synced(
    previous: CampaignStatus,
    backend: Mapping[str, Any],
    *,
    lease_holder: str | None,
    generation: int | None,
    now: datetime,
) -> CampaignStatus:
    """The backend holds the campaign: copy its state and progress."""
    progress = CampaignProgress.model_validate(backend.get("progress") or {})
    state = str(backend.get("state", ""))
    conditions = set_condition(previous.conditions, "Ready", ConditionStatus.TRUE,
                               "ReferencesResolved", "bot, pool and contacts resolve",
                               generation=generation, now=now)  # fmt: skip
    conditions = set_condition(conditions, "Synced", ConditionStatus.TRUE, "UpToDate",
                               f"backend campaign {backend['id']} is {state}",
                               generation=generation, now=now)  # fmt: skip
    return previous.model_copy(
        update={
            "observed_generation": generation,
            "backend_id": backend["id"],
            "state": state,
            "progress": progress,
            "lease_holder": lease_holder,
            "abandonment_rate": backend.get("abandonment_rate", previous.abandonment_rate),
            "conditions": conditions,
        }
    )


def not_ready(
    previous: CampaignStatus, reason: str, message: str, *, generation: int | None, now: datetime
) -> CampaignStatus:
    """The campaign cannot be synced as it stands (invalid, or a reference does not resolve)."""
    conditions = set_condition(previous.conditions, "Ready", ConditionStatus.FALSE, reason,
                               message, generation=generation, now=now)  # fmt: skip
    conditions = set_condition(conditions, "Synced", ConditionStatus.FALSE, reason, message,
                               generation=generation, now=now)  # fmt: skip
    return previous.model_copy(update={"observed_generation": generation, "conditions": conditions})


def unsynced(
    previous: CampaignStatus, reason: str, message: str, *, generation: int | None, now: datetime
) -> CampaignStatus:
    """Valid and resolved, but not (or not now) in the backend."""
    conditions = set_condition(previous.conditions, "Ready", ConditionStatus.TRUE,
                               "ReferencesResolved", "bot, pool and contacts resolve",
                               generation=generation, now=now)  # fmt: skip
    status = ConditionStatus.UNKNOWN if reason == "SyncDisabled" else ConditionStatus.FALSE
    conditions = set_condition(conditions, "Synced", status, reason, message,
                               generation=generation, now=now)  # fmt: skip
    return previous.model_copy(update={"observed_generation": generation, "conditions": conditions})

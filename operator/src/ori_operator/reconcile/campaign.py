"""Campaign decisions and status (pure): state transitions, progress, conditions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ori_contracts.campaign import CAMPAIGN_TRANSITIONS, CampaignState
from ori_contracts.crds import (
    CampaignProgress,
    CampaignStatus,
    ConditionStatus,
    DesiredCampaignState,
)
from ori_operator.reconcile.conditions import set_condition

__all__ = ["not_ready", "synced", "transitions", "unsynced"]


def transitions(current: CampaignState, desired: DesiredCampaignState) -> list[CampaignState]:
    """The state changes to request, in order, to move the backend toward `desired`.

    A draft campaign that should be paused stays a draft (it was never started); completed
    and stopped are final.
    """
    target = CampaignState(desired.value)
    if current == target or target not in CAMPAIGN_TRANSITIONS[current]:
        return []
    return [target]


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

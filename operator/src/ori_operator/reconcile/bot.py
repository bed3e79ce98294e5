"""Bot status from the outcome of one sync with the backend (pure)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from ori_contracts.bot_spec import BotSyncResult
from ori_contracts.crds import BotStatus, ConditionStatus
from ori_operator.reconcile.conditions import set_condition

__all__ = ["SyncProblem", "failed", "settled", "synced", "unsynced"]


class SyncProblem(StrEnum):
    """Why a bot is not (or not known to be) live in the backend."""

    INVALID_SPEC = "InvalidSpec"
    REJECTED = "BackendRejected"
    UNAVAILABLE = "BackendUnavailable"


def synced(
    previous: BotStatus, result: BotSyncResult, *, generation: int | None, now: datetime
) -> BotStatus:
    """The backend holds this generation as `result.version`."""
    what = "created" if result.created else ("updated" if result.changed else "unchanged")
    conditions = set_condition(
        previous.conditions, "Ready", ConditionStatus.TRUE, "Live",
        f"bot {result.id} version {result.version} is live", generation=generation, now=now,
    )  # fmt: skip
    conditions = set_condition(
        conditions, "Synced", ConditionStatus.TRUE, "UpToDate",
        f"backend {what} (version {result.version})", generation=generation, now=now,
    )  # fmt: skip
    return previous.model_copy(
        update={
            "observed_generation": generation,
            "backend_id": result.id,
            "version": result.version,
            "synced_at": now.isoformat().replace("+00:00", "Z"),
            "conditions": conditions,
        }
    )


def failed(
    previous: BotStatus,
    problem: SyncProblem,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> BotStatus:
    """The sync did not happen; an unavailable backend leaves readiness as it was."""
    conditions = previous.conditions
    if problem is not SyncProblem.UNAVAILABLE:  # the spec itself is wrong: not ready
        conditions = set_condition(conditions, "Ready", ConditionStatus.FALSE, problem.value,
                                   message, generation=generation, now=now)  # fmt: skip
    conditions = set_condition(conditions, "Synced", ConditionStatus.FALSE, problem.value,
                               message, generation=generation, now=now)  # fmt: skip
    return previous.model_copy(update={"observed_generation": generation, "conditions": conditions})


def unsynced(previous: BotStatus, *, generation: int | None, now: datetime) -> BotStatus:
    """The operator has no backend to sync to (`BACKEND_URL` unset): valid, not synced."""
    conditions = set_condition(previous.conditions, "Ready", ConditionStatus.TRUE, "Valid",
                               "the spec is valid; no backend configured",
                               generation=generation, now=now)  # fmt: skip
    conditions = set_condition(conditions, "Synced", ConditionStatus.UNKNOWN, "SyncDisabled",
                               "BACKEND_URL is not set", generation=generation,
                               now=now)  # fmt: skip
    return previous.model_copy(update={"observed_generation": generation, "conditions": conditions})


def settled(status: BotStatus) -> bool:
    """Whether the sync is done until the next change or resync (not waiting on the backend)."""
    return not any(c.reason == SyncProblem.UNAVAILABLE.value for c in status.conditions)

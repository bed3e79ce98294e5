"""Status conditions: set one, keeping its transition time when its status did not change."""

from __future__ import annotations

from datetime import datetime

from ori_contracts.crds import Condition, ConditionStatus

__all__ = ["condition_status", "set_condition"]


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Return `conditions` with the `type_` condition replaced (or added).

    `lastTransitionTime` moves only when the status changes, as Kubernetes conventions ask.

    Args:
        conditions: The current conditions.
        type_: The condition type, e.g. `Ready`.
        status: Its new status.
        reason: CamelCase reason.
        message: A sentence for humans.
        generation: The `metadata.generation` it was computed from.
        now: The time to stamp if the status changed.

    Returns:
        A new list, in the same order, the new type appended if it was absent.
    """
    previous = next((c for c in conditions if c.type == type_), None)
    changed_at = now if previous is None or previous.status != status else None
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=changed_at or previous.last_transition_time,  # type: ignore[union-attr]
        observed_generation=generation,
    )
    if previous is None:
        return [*conditions, updated]
    return [updated if c.type == type_ else c for c in conditions]


def condition_status(conditions: list[Condition], type_: str) -> ConditionStatus | None:
    """The status of one condition, or None when it is absent."""
    return next((c.status for c in conditions if c.type == type_), None)

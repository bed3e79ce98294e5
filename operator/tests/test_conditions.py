"""Conditions keep their transition time unless their status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ori_contracts.crds import ConditionStatus
from ori_operator.reconcile.conditions import condition_status, set_condition

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_adding_changing_and_keeping_a_condition() -> None:
    added = set_condition([], "Ready", ConditionStatus.FALSE, "Starting", "0 of 2", generation=1,
                          now=T0)  # fmt: skip
    same = set_condition(added, "Ready", ConditionStatus.FALSE, "Starting", "1 of 2",
                         generation=2, now=T0 + timedelta(minutes=1))  # fmt: skip
    flipped = set_condition(same, "Ready", ConditionStatus.TRUE, "Ready", "2 of 2", generation=2,
                            now=T0 + timedelta(minutes=2))  # fmt: skip
    assert same[0].last_transition_time == T0
    assert same[0].message == "1 of 2"
    assert flipped[0].last_transition_time == T0 + timedelta(minutes=2)
    assert condition_status(flipped, "Ready") is ConditionStatus.TRUE
    assert condition_status(flipped, "Synced") is None


def test_other_conditions_keep_their_place() -> None:
    both = set_condition([], "Ready", ConditionStatus.TRUE, "Ok", "", generation=1, now=T0)
    both = set_condition(both, "Draining", ConditionStatus.FALSE, "None", "", generation=1, now=T0)
    updated = set_condition(both, "Ready", ConditionStatus.FALSE, "Down", "", generation=2, now=T0)
    assert [c.type for c in updated] == ["Ready", "Draining"]

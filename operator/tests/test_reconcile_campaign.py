"""Campaign state transitions and status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ori_contracts.campaign import CampaignState
from ori_contracts.crds import CampaignStatus, ConditionStatus, DesiredCampaignState
from ori_operator.reconcile import campaign

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, tzinfo=UTC)
S, D = CampaignState, DesiredCampaignState


@pytest.mark.parametrize(
    ("current", "desired", "steps"),
    [
        (S.DRAFT, D.RUNNING, [S.RUNNING]),
        (S.DRAFT, D.PAUSED, []),  # never started: stays a draft
        (S.RUNNING, D.PAUSED, [S.PAUSED]),
        (S.PAUSED, D.RUNNING, [S.RUNNING]),
        (S.RUNNING, D.STOPPED, [S.STOPPED]),
        (S.RUNNING, D.RUNNING, []),
        (S.COMPLETED, D.RUNNING, []),  # final
        (S.STOPPED, D.RUNNING, []),  # final
    ],
)
def test_transitions_follow_the_backend_state_machine(
    current: CampaignState, desired: DesiredCampaignState, steps: list[CampaignState]
) -> None:
    assert campaign.transitions(current, desired) == steps


def test_synced_copies_state_progress_and_lease() -> None:
    progress = {"total": 5, "pending": 3, "in_progress": 1, "done": 1, "failed": 0}
    backend = {"id": "cmp_1", "state": "running", "progress": progress}
    status = campaign.synced(CampaignStatus(), backend, lease_holder="dialler-1", generation=2,
                             now=NOW)  # fmt: skip
    assert (status.backend_id, status.state, status.lease_holder) == ("cmp_1", "running",
                                                                      "dialler-1")  # fmt: skip
    assert (status.progress.total, status.progress.pending) == (5, 3)
    assert all(c.status is ConditionStatus.TRUE for c in status.conditions)


def test_an_unresolved_reference_is_not_ready_and_a_down_backend_only_unsynced() -> None:
    missing = campaign.not_ready(CampaignStatus(), "BotNotFound", "Bot x does not exist",
                                 generation=1, now=NOW)  # fmt: skip
    ready = next(c for c in missing.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == (ConditionStatus.FALSE, "BotNotFound")
    down = campaign.unsynced(CampaignStatus(), "BackendUnavailable", "refused", generation=1,
                             now=NOW)  # fmt: skip
    synced = next(c for c in down.conditions if c.type == "Synced")
    assert synced.status is ConditionStatus.FALSE
    off = campaign.unsynced(CampaignStatus(), "SyncDisabled", "no backend", generation=1, now=NOW)
    assert next(c for c in off.conditions if c.type == "Synced").status is ConditionStatus.UNKNOWN

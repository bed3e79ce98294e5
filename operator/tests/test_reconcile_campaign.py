"""Campaign state transitions and status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ori_contracts.campaign import CampaignState, ContactImportResult
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


def test_the_sync_loop_settles_only_when_ready_and_synced() -> None:
    backend = {"id": "cmp_1", "state": "running", "progress": {}}
    live = campaign.synced(CampaignStatus(), backend, lease_holder=None, generation=1, now=NOW)
    missing = campaign.not_ready(live, "BotNotFound", "no bot", generation=2, now=NOW)
    down = campaign.unsynced(live, "BackendUnavailable", "refused", generation=2, now=NOW)
    assert (campaign.settled(live), campaign.settled(missing), campaign.settled(down)) == (
        True,
        False,
        False,
    )
    assert campaign.settled(CampaignStatus())  # nothing known yet: nothing to retry


def contacts_condition(status: CampaignStatus) -> tuple[ConditionStatus, str, str]:
    found = next(c for c in status.conditions if c.type == campaign.CONTACTS_CONDITION)
    return found.status, found.reason, found.message


def test_an_imported_list_records_what_was_added_skipped_and_withdrawn() -> None:
    result = ContactImportResult(import_id="imp_1", imported=1, skipped=2, withdrawn=1)
    status = campaign.with_contacts(CampaignStatus(), campaign.ContactsImport("d2", result),
                                    generation=3, now=NOW)  # fmt: skip
    assert (status.contacts_digest, status.contacts_imported, status.contacts_skipped) == (
        "d2",
        1,
        2,
    )
    assert (status.contacts_withdrawn, status.contacts_invalid_rows) == (1, 0)
    assert contacts_condition(status) == (
        ConditionStatus.TRUE,
        "Imported",
        "1 contact(s) added, 2 already in the campaign, 1 pending withdrawn",
    )
    assert not campaign.contacts_refused(status)


def test_a_refused_list_keeps_the_last_import_and_counts_its_bad_rows() -> None:
    imported = ContactImportResult(import_id="imp_1", imported=2)
    before = campaign.with_contacts(CampaignStatus(), campaign.ContactsImport("d1", imported),
                                    generation=1, now=NOW)  # fmt: skip
    refused = campaign.ContactsImport("d2", invalid_rows=3, problem="3 invalid row(s): row 2 ...")
    status = campaign.with_contacts(before, refused, generation=2, now=NOW)
    assert (status.contacts_digest, status.contacts_invalid_rows) == ("d2", 3)
    assert status.contacts_imported == 2  # what the last successful import added
    condition = contacts_condition(status)
    assert condition[:2] == (ConditionStatus.FALSE, "InvalidRows")
    assert condition[2] == "nothing was imported: 3 invalid row(s): row 2 ..."
    assert campaign.contacts_refused(status)
    whole_file = campaign.ContactsImport("d3", problem="the header has no phone column")
    status = campaign.with_contacts(before, whole_file, generation=3, now=NOW)
    assert contacts_condition(status)[:2] == (ConditionStatus.FALSE, "InvalidList")
    assert status.contacts_invalid_rows is None


def test_a_draft_whose_list_was_refused_is_not_started_but_a_running_one_keeps_going() -> None:
    assert campaign.transitions(S.DRAFT, D.RUNNING, contacts_refused=True) == []
    assert campaign.transitions(S.DRAFT, D.STOPPED, contacts_refused=True) == [S.STOPPED]
    assert campaign.transitions(S.RUNNING, D.PAUSED, contacts_refused=True) == [S.PAUSED]
    assert campaign.transitions(S.PAUSED, D.RUNNING, contacts_refused=True) == [S.RUNNING]


def test_an_uploaded_list_imports_nothing_and_says_so() -> None:
    status = campaign.uploaded_list(CampaignStatus(), "spring-2026", generation=1, now=NOW)
    assert contacts_condition(status)[:2] == (ConditionStatus.TRUE, "UploadedList")
    assert status.contacts_digest is None
    assert campaign.settled(status)

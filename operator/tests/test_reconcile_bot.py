"""Bot status from sync outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ori_contracts.bot_spec import BotSyncResult
from ori_contracts.crds import BotStatus, ConditionStatus
from ori_operator.reconcile import bot

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def cond(status: BotStatus, kind: str) -> tuple[ConditionStatus, str]:
    found = next(c for c in status.conditions if c.type == kind)
    return found.status, found.reason


def test_a_sync_records_the_backend_id_and_version() -> None:
    result = BotSyncResult(id="bot_1", version=2, created=False, changed=True)
    status = bot.synced(BotStatus(), result, generation=4, now=NOW)
    assert (status.backend_id, status.version, status.observed_generation) == ("bot_1", 2, 4)
    assert cond(status, "Ready") == (ConditionStatus.TRUE, "Live")
    assert cond(status, "Synced") == (ConditionStatus.TRUE, "UpToDate")
    assert status.synced_at == "2026-03-01T00:00:00Z"


def test_an_unreachable_backend_keeps_readiness_but_marks_it_unsynced() -> None:
    live = bot.synced(BotStatus(), BotSyncResult(id="b", version=1, created=True, changed=True),
                      generation=1, now=NOW)  # fmt: skip
    later = NOW + timedelta(minutes=1)
    down = bot.failed(live, bot.SyncProblem.UNAVAILABLE, "connection refused", generation=2,
                      now=later)  # fmt: skip
    assert cond(down, "Ready") == (ConditionStatus.TRUE, "Live")
    assert cond(down, "Synced") == (ConditionStatus.FALSE, "BackendUnavailable")
    assert down.version == 1


def test_an_invalid_spec_is_not_ready() -> None:
    status = bot.failed(BotStatus(), bot.SyncProblem.INVALID_SPEC, "spec.llm: bad",
                        generation=3, now=NOW)  # fmt: skip
    assert cond(status, "Ready") == (ConditionStatus.FALSE, "InvalidSpec")
    assert next(c for c in status.conditions if c.type == "Ready").message == "spec.llm: bad"


def test_without_a_backend_a_valid_bot_is_ready_and_not_synced() -> None:
    status = bot.unsynced(BotStatus(), generation=1, now=NOW)
    assert cond(status, "Ready") == (ConditionStatus.TRUE, "Valid")
    assert cond(status, "Synced") == (ConditionStatus.UNKNOWN, "SyncDisabled")


def test_only_an_unreachable_backend_keeps_the_sync_loop_looking_soon() -> None:
    live = bot.synced(BotStatus(), BotSyncResult(id="b", version=1, created=True, changed=True),
                      generation=1, now=NOW)  # fmt: skip
    down = bot.failed(live, bot.SyncProblem.UNAVAILABLE, "refused", generation=1, now=NOW)
    invalid = bot.failed(live, bot.SyncProblem.INVALID_SPEC, "spec.llm: bad", generation=2,
                         now=NOW)  # fmt: skip
    assert (bot.settled(live), bot.settled(down), bot.settled(invalid)) == (True, False, True)

"""The FleetPool plan: who is created, retired, drained or deleted, and the status reported."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from ori_contracts.allocation import WorkerRegistration, WorkerState
from ori_contracts.crds import ConditionStatus, FleetPoolSpec, FleetPoolStatus
from ori_operator.reconcile.fleetpool import Plan, PodView, Role, classify, plan

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = NOW.timestamp()


def spec(**fields: object) -> FleetPoolSpec:
    return FleetPoolSpec.model_validate({"template": {"image": "ori-worker:dev"}, **fields})


def pod(name: str, *, created: float = 0.0, **fields: object) -> PodView:
    base: dict[str, object] = {
        "name": name,
        "resource_version": f"rv-{name}",
        "phase": "Running",
        "ready": True,
        "terminating": False,
        "draining_label": False,
        "created_at": T - 1000 + created,
    }
    return PodView(**{**base, **fields})  # type: ignore[arg-type]


def reg(name: str, state: WorkerState, **fields: float) -> WorkerRegistration:
    call = "call_" + name if state in (WorkerState.BUSY, WorkerState.DRAINING) else ""
    return WorkerRegistration(
        worker_id=name, pool="p", address="10.0.0.1:8000", state=state, call_id=call, **fields
    )


def run(
    pool_spec: FleetPoolSpec,
    pods: list[PodView],
    regs: Mapping[str, WorkerRegistration | None] | None,
) -> Plan:
    return plan("p", pool_spec, pods, regs, generation=3, previous=FleetPoolStatus(), now=NOW)


def names(pods: list[PodView]) -> list[str]:
    return [p.name for p in pods]


def test_an_empty_pool_creates_the_desired_workers_and_reports_the_selector() -> None:
    result = run(spec(replicas=5), [], {})
    assert result.create == 5
    assert result.status.selector == "ori.dev/fleetpool=p"
    assert (result.status.replicas, result.status.desired) == (0, 5)
    assert result.status.observed_generation == 3


def test_replicas_default_to_min_replicas() -> None:
    assert run(spec(min_replicas=2), [], {}).create == 2


def test_a_converged_pool_does_nothing_and_is_ready() -> None:
    pods = [pod("a"), pod("b")]
    result = run(spec(replicas=2), pods, {"a": reg("a", WorkerState.IDLE), "b": None})
    assert result.idle_actions
    ready = next(c for c in result.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == (ConditionStatus.TRUE, "WorkersReady")
    assert (result.status.idle, result.status.ready) == (1, 2)


def test_scale_down_retires_starting_then_idle_newest_first_and_never_busy() -> None:
    pods = [pod("busy", created=9), pod("old", created=1), pod("new", created=5), pod("boot")]
    regs = {
        "busy": reg("busy", WorkerState.BUSY),
        "old": reg("old", WorkerState.IDLE),
        "new": reg("new", WorkerState.IDLE),
        "boot": None,
    }
    result = run(spec(replicas=2), pods, regs)
    assert names(result.retire) == ["boot", "new"]
    assert result.drain == []
    assert result.delete == []


def test_busy_workers_beyond_desired_are_drained_oldest_call_first() -> None:
    pods = [pod(n) for n in ("a", "b", "c", "d")]
    regs: dict[str, WorkerRegistration | None] = {
        "a": reg("a", WorkerState.BUSY, claimed_at=T - 10),
        "b": reg("b", WorkerState.BUSY, claimed_at=T - 300),
        "c": reg("c", WorkerState.BUSY, claimed_at=T - 60),
        "d": reg("d", WorkerState.IDLE),
    }
    result = run(spec(replicas=1), pods, regs)
    assert names(result.retire) == ["d"]
    assert names(result.drain) == ["b", "c"]
    assert result.delete == []


def test_draining_workers_do_not_count_and_go_once_their_call_ended() -> None:
    pods = [pod("d1", draining_label=True), pod("d2", draining_label=True), pod("a")]
    regs = {
        "d1": reg("d1", WorkerState.DRAINING, draining_at=T - 5),
        "d2": reg("d2", WorkerState.RETIRED),
        "a": reg("a", WorkerState.IDLE),
    }
    result = run(spec(replicas=1), pods, regs)
    assert names(result.delete) == ["d2"]
    assert (result.status.replicas, result.status.draining) == (1, 1)
    draining = next(c for c in result.status.conditions if c.type == "Draining")
    assert draining.status is ConditionStatus.TRUE


def test_a_drain_past_its_timeout_is_deleted_anyway() -> None:
    pods = [pod("d", draining_label=True)]
    regs = {"d": reg("d", WorkerState.DRAINING, draining_at=T - 901)}
    assert names(run(spec(replicas=0, drain_timeout_s=900), pods, regs).delete) == ["d"]


def test_scale_up_undrains_before_creating() -> None:
    pods = [pod("d", draining_label=True), pod("a")]
    regs = {"d": reg("d", WorkerState.DRAINING), "a": reg("a", WorkerState.IDLE)}
    result = run(spec(replicas=4), pods, regs)
    assert names(result.undrain) == ["d"]
    assert result.create == 2


def test_failed_and_retired_pods_are_deleted_and_replaced() -> None:
    pods = [pod("f", phase="Failed"), pod("r"), pod("a")]
    regs = {"f": None, "r": reg("r", WorkerState.RETIRED), "a": reg("a", WorkerState.IDLE)}
    result = run(spec(replicas=3), pods, regs)
    assert sorted(names(result.delete)) == ["f", "r"]
    assert result.create == 2


def test_terminating_pods_are_neither_counted_nor_touched() -> None:
    pods = [pod("t", terminating=True), pod("a")]
    result = run(spec(replicas=2), pods, {"t": None, "a": None})
    assert result.create == 1
    assert result.delete == []


def test_without_redis_nothing_alive_is_deleted_but_capacity_is_still_added() -> None:
    pods = [pod("a"), pod("b"), pod("d", draining_label=True), pod("f", phase="Failed")]
    down = run(spec(replicas=1), pods, None)
    assert (down.retire, down.drain) == ([], [])
    assert names(down.delete) == ["f"]
    assert run(spec(replicas=5), pods[:2], None).create == 3
    ready = next(c for c in down.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == (ConditionStatus.UNKNOWN, "RedisUnavailable")


def test_labels_follow_redis() -> None:
    pods = [pod("d"), pod("b", draining_label=True)]
    regs = {"d": reg("d", WorkerState.DRAINING), "b": reg("b", WorkerState.BUSY)}
    result = run(spec(replicas=1), pods, regs)
    assert names(result.label) == ["d"]
    assert names(result.unlabel) == ["b"]


def test_a_draining_pod_whose_worker_vanished_is_deleted() -> None:
    assert classify(pod("d", draining_label=True), None, now=T, drain_timeout_s=60) is Role.FINISHED
    assert classify(pod("s"), None, now=T, drain_timeout_s=60) is Role.STARTING


def test_condition_transition_time_moves_only_when_the_status_changes() -> None:
    first = run(spec(replicas=1), [pod("a")], {"a": None})
    later = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    again = plan("p", spec(replicas=1), [pod("a")], {"a": None}, generation=4,
                 previous=first.status, now=later)  # fmt: skip
    before = next(c for c in first.status.conditions if c.type == "Ready")
    after = next(c for c in again.status.conditions if c.type == "Ready")
    assert after.last_transition_time == before.last_transition_time
    assert after.observed_generation == 4

"""FleetPool reconciliation as a pure function: pods and registrations in, a plan out.

The rules (Agones' ownership rule, adapted to one call per pod):

* `desired` is `spec.replicas` (defaulted to `min_replicas`, clamped to the bounds). Workers
  counted toward it are the pool's pods that are not terminating, not failed, not retired
  and not draining: starting (no registration yet), idle and busy.
* Too few: put draining workers back in service first (they are warm and already paid for),
  then create pods.
* Too many: retire starting pods, then idle ones (newest first), each through the Redis CAS
  (`retire`), and only then delete the pod, with its `resourceVersion` as a precondition.
  A busy worker is never deleted: it is marked draining and deleted once its call ends
  (its registration says `retired`) or after `drain_timeout_s`.
* Without Redis the operator cannot tell idle from busy, so it deletes nothing alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ori_contracts.allocation import WorkerRegistration, WorkerState
from ori_contracts.crds import (
    FLEETPOOL_LABEL,
    ConditionStatus,
    FleetPoolSpec,
    FleetPoolStatus,
)
from ori_operator.reconcile.conditions import set_condition

__all__ = ["Plan", "PodView", "Role", "classify", "plan", "selector"]

MAX_CREATIONS_PER_PASS = 200
"""Pods one pass may create (the API server is the limit, not us)."""


class Role(StrEnum):
    """What a pod is to the pool right now."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"
    FINISHED = "finished"
    """Retired, failed, or drained with its call over: delete it."""
    TERMINATING = "terminating"
    """Already being deleted: not counted, not touched."""


@dataclass(frozen=True)
class PodView:
    """The facts about one worker pod the plan needs."""

    name: str
    resource_version: str
    phase: str
    ready: bool
    terminating: bool
    draining_label: bool
    created_at: float


@dataclass
class Plan:
    """What one pass should do, and the status it observed."""

    create: int = 0
    retire: list[PodView] = field(default_factory=list)
    drain: list[PodView] = field(default_factory=list)
    undrain: list[PodView] = field(default_factory=list)
    delete: list[PodView] = field(default_factory=list)
    label: list[PodView] = field(default_factory=list)
    """Draining in Redis but not labelled yet."""
    unlabel: list[PodView] = field(default_factory=list)
    """Labelled draining but back in service in Redis."""
    status: FleetPoolStatus = field(default_factory=FleetPoolStatus)

    @property
    def idle_actions(self) -> bool:
        """Whether the pass has nothing to do but write status."""
        return not (
            self.create
            or self.retire
            or self.drain
            or self.undrain
            or self.delete
            or self.label
            or self.unlabel
        )


def selector(pool: str) -> str:
    """The label selector of a pool's pods, as `/scale` reports it."""
    return f"{FLEETPOOL_LABEL}={pool}"


def classify(
    pod: PodView,
    registration: WorkerRegistration | None,
    *,
    now: float,
    drain_timeout_s: int,
    redis_ok: bool = True,
) -> Role:
    """Decide one pod's role from the pod and its worker's registration (Redis wins).

    Without Redis (`redis_ok` false) only the pod is known: a draining label means draining,
    anything else alive counts as starting, so nothing alive is deleted.
    """
    if pod.terminating:
        return Role.TERMINATING
    if pod.phase in ("Failed", "Succeeded"):
        return Role.FINISHED
    if not redis_ok:
        return Role.DRAINING if pod.draining_label else Role.STARTING
    if registration is None:
        # A draining pod whose registration vanished lost its worker: nothing left to wait for.
        return Role.FINISHED if pod.draining_label else Role.STARTING
    state = registration.state
    if state is WorkerState.RETIRED:
        return Role.FINISHED
    if state is WorkerState.DRAINING:
        since = registration.draining_at or now
        return Role.FINISHED if drain_timeout_s and now - since > drain_timeout_s else Role.DRAINING
    return Role.BUSY if state is WorkerState.BUSY else Role.IDLE


def plan(
    pool: str,
    spec: FleetPoolSpec,
    pods: list[PodView],
    registrations: Mapping[str, WorkerRegistration | None] | None,
    *,
    generation: int | None,
    previous: FleetPoolStatus,
    now: datetime,
) -> Plan:
    """Decide one reconcile pass.

    Args:
        pool: The FleetPool's name.
        spec: Its validated spec.
        pods: Its pods (every pod with its label, terminating ones included).
        registrations: Each pod's registration, or None when Redis could not be read.
        generation: `metadata.generation`, for `observedGeneration`.
        previous: The status currently stored, for condition transition times.
        now: The current time.

    Returns:
        The actions and the status to write.
    """
    timestamp = now.timestamp()
    redis_ok = registrations is not None
    regs = registrations or {}
    by_role: dict[Role, list[PodView]] = {role: [] for role in Role}
    for pod in pods:
        role = classify(
            pod,
            regs.get(pod.name),
            now=timestamp,
            drain_timeout_s=spec.drain_timeout_s,
            redis_ok=redis_ok,
        )
        by_role[role].append(pod)
    result = Plan(delete=list(by_role[Role.FINISHED]))
    _repair_labels(result, by_role, redis_ok)
    desired = spec.desired_replicas()
    _scale(result, by_role, desired, redis_ok, regs)
    status = _status(pool, by_role, desired, generation)
    result.status = _with_conditions(status, redis_ok, generation, previous, now)
    return result


def _repair_labels(result: Plan, by_role: dict[Role, list[PodView]], redis_ok: bool) -> None:
    if not redis_ok:
        return
    result.label = [p for p in by_role[Role.DRAINING] if not p.draining_label]
    result.unlabel = [p for p in by_role[Role.BUSY] + by_role[Role.IDLE] if p.draining_label]


def _scale(
    result: Plan,
    by_role: dict[Role, list[PodView]],
    desired: int,
    redis_ok: bool,
    regs: Mapping[str, WorkerRegistration | None],
) -> None:
    active = by_role[Role.STARTING] + by_role[Role.IDLE] + by_role[Role.BUSY]
    if len(active) < desired:
        missing = desired - len(active)
        result.undrain = by_role[Role.DRAINING][:missing] if redis_ok else []
        missing -= len(result.undrain)
        result.create = max(0, min(missing, MAX_CREATIONS_PER_PASS))
    elif len(active) > desired and redis_ok:
        excess = len(active) - desired
        newest_first = sorted(by_role[Role.STARTING], key=lambda p: -p.created_at)
        newest_first += sorted(by_role[Role.IDLE], key=lambda p: -p.created_at)
        result.retire = newest_first[:excess]
        excess -= len(result.retire)
        oldest_call_first = sorted(by_role[Role.BUSY], key=lambda p: _claimed_at(regs, p))
        result.drain = oldest_call_first[:excess]


def _claimed_at(regs: Mapping[str, WorkerRegistration | None], pod: PodView) -> float:
    registration = regs.get(pod.name)
    return (registration.claimed_at or 0.0) if registration else 0.0


def _status(
    pool: str, by_role: dict[Role, list[PodView]], desired: int, generation: int | None
) -> FleetPoolStatus:
    active = by_role[Role.STARTING] + by_role[Role.IDLE] + by_role[Role.BUSY]
    return FleetPoolStatus(
        observed_generation=generation,
        replicas=len(active),
        ready=sum(p.ready for p in active),
        idle=len(by_role[Role.IDLE]),
        busy=len(by_role[Role.BUSY]),
        draining=len(by_role[Role.DRAINING]),
        selector=selector(pool),
        desired=desired,
    )


def _with_conditions(
    status: FleetPoolStatus,
    redis_ok: bool,
    generation: int | None,
    previous: FleetPoolStatus,
    now: datetime,
) -> FleetPoolStatus:
    conditions = list(previous.conditions)
    if not redis_ok:
        ready = (ConditionStatus.UNKNOWN, "RedisUnavailable",
                 "cannot read worker registrations; scaling down is paused")  # fmt: skip
    elif status.replicas == status.desired and status.ready == status.desired:
        ready = (ConditionStatus.TRUE, "WorkersReady",
                 f"{status.ready} of {status.desired} workers ready")  # fmt: skip
    elif status.replicas > status.desired:
        ready = (ConditionStatus.FALSE, "ScalingDown",
                 f"{status.replicas} workers, {status.desired} wanted")  # fmt: skip
    else:
        ready = (ConditionStatus.FALSE, "WorkersStarting",
                 f"{status.ready} of {status.desired} workers ready")  # fmt: skip
    conditions = set_condition(conditions, "Ready", *ready, generation=generation, now=now)
    draining = (
        (ConditionStatus.TRUE, "BusyWorkersDraining",
         f"{status.draining} busy workers go away when their calls end")
        if status.draining
        else (ConditionStatus.FALSE, "NoneDraining", "no worker is draining")
    )  # fmt: skip
    conditions = set_condition(conditions, "Draining", *draining, generation=generation, now=now)
    return status.model_copy(update={"conditions": conditions})

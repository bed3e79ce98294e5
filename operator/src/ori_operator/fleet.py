"""One FleetPool reconcile pass: observe (Kubernetes + Redis), plan (pure), act, report.

Called by the FleetPool daemon in `handlers.fleetpool`; everything it decides comes from
`reconcile.fleetpool.plan`. Actions that lose a race (a pod changed, a worker was claimed
meanwhile) are skipped: the next pass sees the new state and decides again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError
from redis.exceptions import RedisError

from ori_contracts.allocation import WorkerRegistration, WorkerState
from ori_contracts.crds import (
    DRAINING_LABEL,
    FLEETPOOL,
    ConditionStatus,
    FleetPoolSpec,
    FleetPoolStatus,
)
from ori_operator import metrics
from ori_operator.context import OperatorContext
from ori_operator.kube import Conflict
from ori_operator.reconcile.conditions import set_condition
from ori_operator.reconcile.fleetpool import Plan, PodView, plan, selector
from ori_operator.reconcile.pods import DRAINING_SINCE_ANNOTATION, pod_view, worker_pod

__all__ = ["PoolRef", "reconcile_pool"]

log = logging.getLogger(__name__)

_CONCURRENCY: Final = 16
"""Kubernetes writes in flight at once during one pass."""


@dataclass(frozen=True)
class PoolRef:
    """Which pool a pass is for: namespace, name, uid and the object's generation."""

    namespace: str
    name: str
    uid: str
    generation: int | None

    def __str__(self) -> str:
        return f"FleetPool {self.namespace}/{self.name}"


async def reconcile_pool(
    ctx: OperatorContext,
    pool: PoolRef,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
) -> Plan | None:
    """Run one pass for one pool.

    Args:
        ctx: The operator's clients and settings.
        pool: The pool.
        spec: Its `spec`, as stored.
        status: Its `status`, as stored.

    Returns:
        The plan that was carried out, or None when the spec is invalid (reported in status).
    """
    previous = FleetPoolStatus.model_validate(dict(status or {}))
    try:
        parsed = FleetPoolSpec.model_validate(dict(spec))
    except ValidationError as error:
        await _report_invalid(ctx, pool, previous, error)
        return None
    pods = [pod_view(p) for p in await ctx.kube.list_pods(pool.namespace, selector(pool.name))]
    registrations = await _registrations(ctx, pods)
    now = datetime.now(UTC).replace(microsecond=0)
    decided = plan(
        pool.name,
        parsed,
        pods,
        registrations,
        generation=pool.generation,
        previous=previous,
        now=now,
    )
    await _execute(ctx, pool, parsed, decided)
    await _publish(ctx, pool, decided.status, previous)
    return decided


async def _registrations(
    ctx: OperatorContext, pods: list[PodView]
) -> dict[str, WorkerRegistration | None] | None:
    try:
        return await ctx.allocator.registrations(pod.name for pod in pods)
    except RedisError as error:
        log.warning("cannot read worker registrations (%s); scale-down paused", error)
        return None


async def _execute(ctx: OperatorContext, pool: PoolRef, spec: FleetPoolSpec, todo: Plan) -> None:
    manifest = worker_pod(pool.name, pool.uid, spec)
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def bounded(step: Awaitable[None]) -> None:
        async with limit:
            await step

    steps: list[Awaitable[None]] = [_create(ctx, pool, manifest) for _ in range(todo.create)]
    steps += [_retire(ctx, pool, pod) for pod in todo.retire]
    steps += [_drain(ctx, pool, pod) for pod in todo.drain]
    steps += [_undrain(ctx, pool, pod) for pod in todo.undrain]
    steps += [_delete(ctx, pool, pod) for pod in todo.delete]
    steps += [_set_draining_label(ctx, pool, pod, draining=True) for pod in todo.label]
    steps += [_set_draining_label(ctx, pool, pod, draining=False) for pod in todo.unlabel]
    results = await asyncio.gather(*(bounded(s) for s in steps), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        log.warning("%s: an action failed: %s", pool, failure)
    if failures:
        raise failures[0]


async def _create(ctx: OperatorContext, pool: PoolRef, manifest: dict[str, Any]) -> None:
    await ctx.kube.create_pod(pool.namespace, manifest)
    metrics.POD_ACTIONS.labels("create").inc()


async def _delete(ctx: OperatorContext, pool: PoolRef, pod: PodView) -> None:
    try:
        await ctx.kube.delete_pod(pool.namespace, pod.name, pod.resource_version)
    except Conflict:
        metrics.POD_ACTIONS.labels("conflict").inc()
        return
    metrics.POD_ACTIONS.labels("delete").inc()


async def _retire(ctx: OperatorContext, pool: PoolRef, pod: PodView) -> None:
    state = await ctx.allocator.retire(pod.name, pool.name, drain=False)
    if state is WorkerState.RETIRED:  # won the CAS: no call can land here any more
        metrics.POD_ACTIONS.labels("retire").inc()
        await _delete(ctx, pool, pod)


async def _drain(ctx: OperatorContext, pool: PoolRef, pod: PodView) -> None:
    state = await ctx.allocator.retire(pod.name, pool.name, drain=True)
    if state is WorkerState.DRAINING:
        metrics.POD_ACTIONS.labels("drain").inc()
        await _set_draining_label(ctx, pool, pod, draining=True)
    elif state is WorkerState.RETIRED:  # its call ended meanwhile
        metrics.POD_ACTIONS.labels("retire").inc()
        await _delete(ctx, pool, pod)


async def _undrain(ctx: OperatorContext, pool: PoolRef, pod: PodView) -> None:
    if await ctx.allocator.undrain(pod.name) is WorkerState.BUSY:
        metrics.POD_ACTIONS.labels("undrain").inc()
        await _set_draining_label(ctx, pool, pod, draining=False)


async def _set_draining_label(
    ctx: OperatorContext, pool: PoolRef, pod: PodView, *, draining: bool
) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds") if draining else None
    await ctx.kube.patch_pod_metadata(
        pool.namespace,
        pod.name,
        labels={DRAINING_LABEL: "true" if draining else None},
        annotations={DRAINING_SINCE_ANNOTATION: since},
    )


async def _publish(
    ctx: OperatorContext, pool: PoolRef, status: FleetPoolStatus, previous: FleetPoolStatus
) -> None:
    for role in ("replicas", "ready", "idle", "busy", "draining"):
        value = getattr(status, role)
        metrics.WORKERS.labels(pool.namespace, pool.name, role).set(value)
    try:
        await ctx.allocator.active_calls(pool.name)  # prunes stale calls from KEDA's set
    except RedisError as error:
        log.warning("%s: cannot prune active calls: %s", pool, error)
    if _dump(status) != _dump(previous):
        await ctx.kube.patch_status(FLEETPOOL.plural, pool.namespace, pool.name, _dump(status))


def _dump(status: FleetPoolStatus) -> dict[str, Any]:
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _report_invalid(
    ctx: OperatorContext, pool: PoolRef, previous: FleetPoolStatus, error: ValidationError
) -> None:
    message = "; ".join(_messages(error.errors()))
    conditions = set_condition(
        previous.conditions,
        "Ready",
        ConditionStatus.FALSE,
        "InvalidSpec",
        message[:2000],
        generation=pool.generation,
        now=datetime.now(UTC).replace(microsecond=0),
    )
    status = previous.model_copy(update={"conditions": conditions})
    if _dump(status) != _dump(previous):
        await ctx.kube.patch_status(FLEETPOOL.plural, pool.namespace, pool.name, _dump(status))


def _messages(errors: Iterable[Any]) -> Iterable[str]:
    for item in errors:
        where = ".".join(str(part) for part in item["loc"]) or "spec"
        yield f"spec.{where}: {str(item['msg']).removeprefix('Value error, ')}"

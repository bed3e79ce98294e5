"""FleetPool handlers: one reconcile loop (daemon) per pool, woken by watch events.

The loop is level-triggered: every pass reads the pool, its pods and its workers' Redis
registrations afresh and converges on `spec.replicas`, so a missed event, a restart or a
second operator taking over loses nothing. Events only make the next pass come sooner.
"""

from __future__ import annotations

from typing import Any

import kopf

from ori_contracts.crds import FLEETPOOL, FLEETPOOL_LABEL, GROUP, VERSION
from ori_operator.context import context_of
from ori_operator.fleet import PoolRef, reconcile_pool
from ori_operator.sync_loop import Cadence, run_sync_loop

__all__ = ["on_fleetpool_event", "on_fleetpool_reconcile", "on_worker_pod_event"]


@kopf.daemon(
    GROUP,
    VERSION,
    FLEETPOOL.plural,
    id="fleetpool_reconcile",
    cancellation_timeout=10.0,
)
async def on_fleetpool_reconcile(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    uid: str,
    memo: Any,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Reconcile one pool until it is deleted or the operator stops."""
    if namespace is None:  # FleetPools are namespaced; kopf types allow cluster objects
        return
    ctx = context_of(memo)

    async def one_pass() -> bool:
        pool = PoolRef(namespace, name, uid, body.meta.get("generation"))
        await reconcile_pool(ctx, pool, body.spec, body.status)
        return True  # every pass re-reads everything; the next comes at the interval

    interval = ctx.settings.reconcile_interval_s
    await run_sync_loop(one_pass, wakeups=ctx.wakeups, namespace=namespace, key=name,
                        stopped=stopped, cadence=Cadence(interval, interval),
                        kind=FLEETPOOL.kind, label=f"FleetPool {namespace}/{name}")  # fmt: skip


@kopf.on.event(GROUP, VERSION, FLEETPOOL.plural, id="fleetpool_event")
async def on_fleetpool_event(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """A pool changed (e.g. `kubectl scale`): reconcile it now."""
    if namespace is not None:
        context_of(memo).wakeups.wake(namespace, name)


@kopf.on.event("", "v1", "pods", labels={FLEETPOOL_LABEL: kopf.PRESENT}, id="worker_pod_event")
async def on_worker_pod_event(
    labels: kopf.Labels, namespace: str | None, memo: Any, **_: Any
) -> None:
    """A worker pod changed (started, became Ready, went away): reconcile its pool now."""
    if namespace is not None:
        context_of(memo).wakeups.wake(namespace, labels[FLEETPOOL_LABEL])

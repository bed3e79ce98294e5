"""Campaign handlers: one sync loop (daemon) per Campaign, woken by changes.

Deletion goes through the finalizer: the backend's campaign is stopped, then deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from ori_contracts.crds import CAMPAIGN, GROUP, VERSION
from ori_operator import metrics
from ori_operator.backend import BackendRejected, BackendUnavailable
from ori_operator.campaigns import delete_campaign, sync_campaign
from ori_operator.context import context_of

__all__ = ["on_campaign_delete", "on_campaign_event", "on_campaign_sync"]

log = logging.getLogger(__name__)
_RETRY_S = 5.0


@kopf.daemon(GROUP, VERSION, CAMPAIGN.plural, id="campaign_sync", cancellation_timeout=10.0)
async def on_campaign_sync(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    memo: Any,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Sync one Campaign now, on every change, and every resync interval (progress, lease)."""
    if namespace is None:
        return
    ctx = context_of(memo)
    key = f"campaign/{name}"
    wake = ctx.wakeups.event(namespace, key)
    try:
        while not stopped:
            wake.clear()
            wait = ctx.settings.backend_resync_interval_s
            try:
                with metrics.observe_reconcile(CAMPAIGN.kind):
                    status = await sync_campaign(ctx, namespace, name, body.meta.get("generation"),
                                                 body.spec, body.status)  # fmt: skip
                if any(c.status != "True" for c in status.conditions):
                    wait = min(wait, _RETRY_S)  # waiting on a bot, a pool or the backend
            except Exception:  # the top of a reconcile loop: log, count, retry soon
                log.exception("Campaign %s/%s: sync failed; retrying", namespace, name)
                wait = min(wait, _RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)
    finally:
        ctx.wakeups.forget(namespace, key)


@kopf.on.event(GROUP, VERSION, CAMPAIGN.plural, id="campaign_event")
async def on_campaign_event(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """A Campaign changed: sync it now."""
    if namespace is not None:
        context_of(memo).wakeups.wake(namespace, f"campaign/{name}")


@kopf.on.delete(GROUP, VERSION, CAMPAIGN.plural, id="campaign_delete")
async def on_campaign_delete(memo: Any, name: str, namespace: str | None, **_: Any) -> None:
    """The Campaign is being deleted: stop and delete it in the backend first."""
    if namespace is None:
        return
    try:
        await delete_campaign(context_of(memo), namespace, name)
    except BackendUnavailable as error:
        raise kopf.TemporaryError(f"backend unavailable: {error}", delay=10) from error
    except BackendRejected as error:
        log.warning("Campaign %s: the backend refused its deletion: %s", name, error)

"""Campaign handlers: one sync loop (daemon) per Campaign, woken by changes.

Deletion goes through the finalizer: the backend's campaign is stopped, then deleted.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from ori_contracts.crds import CAMPAIGN, GROUP, VERSION
from ori_operator.backend import BackendRejected, BackendUnavailable
from ori_operator.campaigns import delete_campaign, sync_campaign
from ori_operator.context import context_of
from ori_operator.reconcile import campaign as status_of
from ori_operator.sync_loop import Cadence, run_sync_loop

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
    """Sync one Campaign now, on every change, and every resync interval (progress, lease).

    The contact list's ConfigMap or Secret is read on every pass (the operator may `get` them,
    not watch them), so an edited list is imported within one resync interval.
    """
    if namespace is None:
        return
    ctx = context_of(memo)

    async def one_pass() -> bool:
        status = await sync_campaign(ctx, namespace, name, body.meta.get("generation"),
                                     body.spec, body.status)  # fmt: skip
        return status_of.settled(status)  # else waiting on a bot, a pool or the backend

    cadence = Cadence(ctx.settings.backend_resync_interval_s, _RETRY_S)
    await run_sync_loop(one_pass, wakeups=ctx.wakeups, namespace=namespace,
                        key=f"campaign/{name}", stopped=stopped, cadence=cadence,
                        kind=CAMPAIGN.kind, label=f"Campaign {namespace}/{name}")  # fmt: skip


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

"""Bot handlers: one sync loop (daemon) per Bot, woken by changes; deletion via finalizer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from ori_contracts.crds import BOT, GROUP, VERSION
from ori_operator import metrics
from ori_operator.backend import BackendRejected, BackendUnavailable
from ori_operator.bots import delete_bot, sync_bot
from ori_operator.context import context_of

__all__ = ["on_bot_delete", "on_bot_event", "on_bot_sync"]

log = logging.getLogger(__name__)
_RETRY_UNAVAILABLE_S = 5.0


@kopf.daemon(GROUP, VERSION, BOT.plural, id="bot_sync", cancellation_timeout=10.0)
async def on_bot_sync(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    memo: Any,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Sync one Bot now, on every change, and every resync interval (drift correction)."""
    if namespace is None:
        return
    ctx = context_of(memo)
    wake = ctx.wakeups.event(namespace, f"bot/{name}")
    try:
        while not stopped:
            wake.clear()
            wait = ctx.settings.backend_resync_interval_s
            try:
                with metrics.observe_reconcile(BOT.kind):
                    status = await sync_bot(ctx, namespace, name, body.meta.get("generation"),
                                            body.spec, body.status)  # fmt: skip
                if any(c.reason == "BackendUnavailable" for c in status.conditions):
                    wait = min(wait, _RETRY_UNAVAILABLE_S)
            except Exception:  # the top of a reconcile loop: log, count, retry soon
                log.exception("Bot %s/%s: sync failed; retrying", namespace, name)
                wait = min(wait, _RETRY_UNAVAILABLE_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)
    finally:
        ctx.wakeups.forget(namespace, f"bot/{name}")


@kopf.on.event(GROUP, VERSION, BOT.plural, id="bot_event")
async def on_bot_event(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """A Bot changed: sync it now."""
    if namespace is not None:
        context_of(memo).wakeups.wake(namespace, f"bot/{name}")


@kopf.on.delete(GROUP, VERSION, BOT.plural, id="bot_delete")
async def on_bot_delete(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """The Bot is being deleted: remove it from the backend first (the finalizer waits)."""
    if namespace is None:
        return
    try:
        await delete_bot(context_of(memo), namespace, name)
    except BackendUnavailable as error:
        raise kopf.TemporaryError(f"backend unavailable: {error}", delay=10) from error
    except BackendRejected as error:  # e.g. the key lost its rights: report, do not block
        log.warning("Bot %s/%s: the backend refused its deletion: %s", namespace, name, error)

"""Bot handlers: one sync loop (daemon) per Bot, woken by changes; deletion via finalizer."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from ori_contracts.crds import BOT, GROUP, VERSION
from ori_operator.backend import BackendRejected, BackendUnavailable
from ori_operator.bots import delete_bot, sync_bot
from ori_operator.context import context_of
from ori_operator.reconcile import bot as status_of
from ori_operator.sync_loop import Cadence, run_sync_loop

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

    async def one_pass() -> bool:
        status = await sync_bot(ctx, namespace, name, body.meta.get("generation"), body.spec,
                                body.status)  # fmt: skip
        return status_of.settled(status)

    cadence = Cadence(ctx.settings.backend_resync_interval_s, _RETRY_UNAVAILABLE_S)
    await run_sync_loop(one_pass, wakeups=ctx.wakeups, namespace=namespace, key=f"bot/{name}",
                        stopped=stopped, cadence=cadence, kind=BOT.kind,
                        label=f"Bot {namespace}/{name}")  # fmt: skip


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

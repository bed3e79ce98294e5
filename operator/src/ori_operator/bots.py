"""One Bot sync: validate the spec, upsert it into the backend, report in status.

Called by the Bot daemon in `handlers.bot` on every change and every
`BACKEND_RESYNC_INTERVAL_S`; the upsert is idempotent, so a resync of an unchanged bot makes
no new version, while a bot changed or deleted behind the operator's back is restored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ori_contracts.crds import BOT, BotSpec, BotStatus
from ori_operator.backend import BackendRejected, BackendUnavailable
from ori_operator.context import OperatorContext
from ori_operator.reconcile import bot as status_of

__all__ = ["backend_ref", "delete_bot", "sync_bot"]

log = logging.getLogger(__name__)


def backend_ref(namespace: str, name: str) -> str:
    """The backend's reference of a Bot resource (`<namespace>.<name>`)."""
    return f"{namespace}.{name}"


async def sync_bot(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    generation: int | None,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
) -> BotStatus:
    """Bring the backend's copy of one Bot in line with its spec and record the outcome.

    Returns:
        The status written.
    """
    previous = BotStatus.model_validate(dict(status or {}))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = BotSpec.model_validate(dict(spec))
    except ValidationError as error:
        message = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in error.errors())[:2000]  # fmt: skip
        result = status_of.failed(previous, status_of.SyncProblem.INVALID_SPEC, message,
                                  generation=generation, now=now)  # fmt: skip
    else:
        result = await _upsert(ctx, namespace, name, parsed, previous, generation, now)
    await _write(ctx, namespace, name, previous, result)
    return result


async def _upsert(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    spec: BotSpec,
    previous: BotStatus,
    generation: int | None,
    now: datetime,
) -> BotStatus:
    if ctx.backend is None:
        return status_of.unsynced(previous, generation=generation, now=now)
    try:
        outcome = await ctx.backend.upsert_bot(backend_ref(namespace, name), spec.for_backend(name))
    except BackendUnavailable as error:
        log.warning("Bot %s/%s: backend unavailable: %s", namespace, name, error)
        return status_of.failed(previous, status_of.SyncProblem.UNAVAILABLE, str(error),
                                generation=generation, now=now)  # fmt: skip
    except BackendRejected as error:
        return status_of.failed(previous, status_of.SyncProblem.REJECTED, str(error),
                                generation=generation, now=now)  # fmt: skip
    if outcome.changed:
        log.info("Bot %s/%s: backend bot %s is now version %d", namespace, name, outcome.id,
                 outcome.version)  # fmt: skip
    return status_of.synced(previous, outcome, generation=generation, now=now)


async def _write(
    ctx: OperatorContext, namespace: str, name: str, previous: BotStatus, current: BotStatus
) -> None:
    old = previous.model_dump(mode="json", by_alias=True, exclude_none=True)
    new = current.model_dump(mode="json", by_alias=True, exclude_none=True)
    old.pop("synced_at", None)
    if {k: v for k, v in new.items() if k != "synced_at"} != old:
        await ctx.kube.patch_status(BOT.plural, namespace, name, new)


async def delete_bot(ctx: OperatorContext, namespace: str, name: str) -> None:
    """Remove the bot from the backend (the Bot's finalizer).

    Raises:
        BackendUnavailable: Not reachable now; the deletion waits and is retried.
    """
    if ctx.backend is not None:
        await ctx.backend.delete_bot(backend_ref(namespace, name))

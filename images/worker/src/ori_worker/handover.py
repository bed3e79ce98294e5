"""``hand_over``: what every entry point does with a finished call's one result."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ori_contracts import CallResult
from ori_worker.memory import release_memory

if TYPE_CHECKING:
    from ori_worker.app import WorkerRuntime

log = logging.getLogger(__name__)


async def hand_over(runtime: WorkerRuntime, result: CallResult) -> None:
    """Put ``result`` in the outbox, give memory back and release the call's registration.

    The caller still holds the call's slot and releases it afterwards.
    """
    runtime.outbox.put(result)
    release_memory()
    log.info(
        "call ended: %s (%s)",
        result.outcome,
        result.failure_reason or result.ended_by,
        extra={"call_id": result.call_id, "bot_id": result.bot_id},
    )
    if runtime.registration is not None:
        try:
            await runtime.registration.release(result.call_id)
        except Exception as exc:  # Redis down: the heartbeat re-syncs
            log.warning("release failed: %s", exc, extra={"call_id": result.call_id})

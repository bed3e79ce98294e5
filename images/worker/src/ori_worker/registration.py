"""The worker's registration in Redis, so calls can be allocated to it.

A heartbeat every ``WORKER_HEARTBEAT_INTERVAL_S`` registers or renews the worker (TTL
``WORKER_TTL_S``) through the allocation scripts of ``ori_contracts.allocation``; Redis's
answer (idle, busy, draining, retired) is the allocator's view and is kept for ``/health``.
Every call is admitted before it runs: a call claimed for this worker is confirmed, and one
that arrives without a claim (a carrier's inbound call routed straight to it) makes the worker
busy with it in Redis as a claim would have; a worker claimed for another call, draining or
retired refuses it. At hang-up the worker releases its call; on SIGTERM it retires itself
(``drain``: a busy worker becomes draining and retires when its call ends). A worker that
dies simply stops renewing, its registration expires, and it is never handed a call again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ori_contracts import allocation, redis_keys
from ori_contracts.allocation import AdmitOutcome, AdmitResult, ScriptCall, WorkerState

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


class Registration:
    """Heartbeat, release and retire for one worker."""

    def __init__(
        self,
        client: Redis,
        worker_id: str,
        pool: str,
        address: str,
        current_call: Callable[[], str | None],
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.pool = pool
        self.address = address
        self._current_call = current_call
        self.state: WorkerState | None = None
        self._scripts: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run_script(self, call: ScriptCall) -> Any:
        script = self._scripts.get(call.script.name)
        if script is None:
            script = self._scripts[call.script.name] = self.client.register_script(
                call.script.source
            )
        return await script(keys=list(call.keys), args=list(call.args))

    async def heartbeat(self) -> WorkerState | None:
        """Register or renew now; returns the state Redis holds."""
        call = allocation.heartbeat(self.worker_id, self.pool, self.address, self._current_call())
        self.state = allocation.parse_state(await self._run_script(call))
        return self.state

    async def admit(self, call_id: str) -> AdmitResult:
        """A call arrived: hold it in the registration (busy), unless Redis refuses it."""
        call = allocation.admit(self.worker_id, self.pool, self.address, call_id)
        result = allocation.parse_admit(await self._run_script(call))
        if result.outcome is AdmitOutcome.ADMITTED:
            self.state = WorkerState.BUSY
        return result

    async def release(self, call_id: str) -> WorkerState | None:
        """The call ended: become idle again (or retired, if draining)."""
        raw = await self._run_script(allocation.release(self.worker_id, self.pool, call_id))
        self.state = allocation.parse_state(raw)
        return self.state

    async def retire(self) -> WorkerState | None:
        """Take no more calls: idle -> retired, busy -> draining."""
        raw = await self._run_script(allocation.retire(self.worker_id, self.pool, drain=True))
        self.state = allocation.parse_state(raw)
        return self.state

    def start(self) -> None:
        """Start the heartbeat task."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="worker-heartbeat")

    async def stop(self) -> None:
        """Stop heartbeating (the registration then expires by itself)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.heartbeat()
            except Exception as exc:  # Redis down: keep serving, retry next beat
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(redis_keys.WORKER_HEARTBEAT_INTERVAL_S)


async def admission_refusal(registration: Registration | None, call_id: str) -> str | None:
    """Admit a call that reached this worker in its registration (every entry point does).

    Args:
        registration: The worker's registration; None when it does not register (no Redis).
        call_id: The call, once its id is known.

    Returns:
        None to serve the call (admitted, already claimed for it, or Redis unreachable: the
        call is served and the heartbeat keeps trying), else why it is refused, starting with
        a metrics label: ``busy: claimed for call <id>``, ``draining``, ``retired`` or
        ``elsewhere: call <id> was claimed for worker <id>``.
    """
    if registration is None:
        return None
    try:
        result = await registration.admit(call_id)
    except Exception as exc:  # Redis down: serve the call
        log.warning("admission in Redis failed: %s", exc, extra={"call_id": call_id})
        return None
    if result.ok:
        return None
    if result.outcome is AdmitOutcome.ELSEWHERE:
        return f"elsewhere: call {call_id} was claimed for worker {result.detail}"
    if result.outcome is AdmitOutcome.BUSY:
        return f"busy: claimed for call {result.detail}"
    return str(result.outcome)

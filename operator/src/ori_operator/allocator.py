"""The Redis side of a fleet: thin async callers of the `ori_contracts.allocation` scripts.

The operator uses it to read registrations, retire and drain workers and publish the active
call count; tests, the benchmark and the worker simulator use the same calls to claim and
release workers as the backend, the dialler and the worker do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from ori_contracts import allocation, redis_keys
from ori_contracts.allocation import ClaimResult, ScriptCall, WorkerRegistration, WorkerState

__all__ = ["Allocator"]


class Allocator:
    """Runs the allocation scripts on one Redis (EVALSHA, loading a script on first use)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._scripts: dict[str, AsyncScript] = {}

    async def run(self, call: ScriptCall) -> Any:
        """Run one script invocation and return Redis' raw answer."""
        script = self._scripts.get(call.script.name)
        if script is None:
            script = self.redis.register_script(call.script.source)
            self._scripts[call.script.name] = script
        return await script(keys=list(call.keys), args=list(call.args))

    async def heartbeat(
        self, worker_id: str, pool: str, address: str, call_id: str | None = None
    ) -> WorkerState | None:
        """Register or renew a worker; answers the state Redis holds for it."""
        raw = await self.run(allocation.heartbeat(worker_id, pool, address, call_id))
        return allocation.parse_state(raw)

    async def claim(self, pool: str, call_id: str) -> ClaimResult:
        """Claim an idle worker of `pool` for `call_id` (the same worker again on a reconnect)."""
        return allocation.parse_claim(await self.run(allocation.claim(pool, call_id)))

    async def release(self, worker_id: str, pool: str, call_id: str) -> WorkerState | None:
        """The call ended: the worker goes back to idle (or to retired if it was draining)."""
        return allocation.parse_state(await self.run(allocation.release(worker_id, pool, call_id)))

    async def retire(self, worker_id: str, pool: str, *, drain: bool) -> WorkerState | None:
        """Retire an idle (or unregistered) worker; with `drain`, mark a busy one draining."""
        raw = await self.run(allocation.retire(worker_id, pool, drain=drain))
        return allocation.parse_state(raw)

    async def undrain(self, worker_id: str) -> WorkerState | None:
        """Put a draining worker back in service."""
        return allocation.parse_state(await self.run(allocation.undrain(worker_id)))

    async def active_calls(self, pool: str) -> int:
        """Prune stale active calls and answer how many are live (KEDA's metric)."""
        return int(await self.run(allocation.prune_active_calls(pool)))

    async def idle_workers(self, pool: str) -> int:
        """Entries in the pool's idle set (stale ones included until a claim prunes them)."""
        return int(await self.redis.zcard(redis_keys.pool_idle_workers(pool)))

    async def registrations(
        self, worker_ids: Iterable[str]
    ) -> dict[str, WorkerRegistration | None]:
        """Every worker's registration in one round trip; None where none exists."""
        ids = list(worker_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(redis_keys.worker(worker_id))
            answers = await pipe.execute()
        return {
            worker_id: WorkerRegistration.from_hash(raw)
            for worker_id, raw in zip(ids, answers, strict=True)
        }

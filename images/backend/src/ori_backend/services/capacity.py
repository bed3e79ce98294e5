"""Idle-worker claims in Redis (`ori_contracts.allocation`): one call, one worker.

Direct outbound calls and inbound carrier webhooks both start here: claim an idle worker of
``FLEET_POOL`` for the call (atomically: no other call can claim it), hand the call to it
with a per-call token it checks (:func:`call_token`), and give it back if it refuses before
the call starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from ori_contracts import allocation

__all__ = ["TOKEN_TTL_S", "Claimed", "call_token", "claim_worker", "release_worker"]

TOKEN_TTL_S: Final = 60
"""How long a claimed worker's call token stays valid: the carrier has this long to connect."""


@dataclass(frozen=True)
class Claimed:
    """The worker a call claimed."""

    worker_id: str
    address: str
    """Its ``ip:port``, as it registered."""

    @property
    def url(self) -> str:
        """Its base URL, inside the cluster."""
        return f"http://{self.address}"


async def claim_worker(redis: Redis, pool: str, call_id: str) -> Claimed | None:
    """Claim an idle worker of ``pool`` for ``call_id``; None when none is idle."""
    call = allocation.claim(pool, call_id)
    script = redis.register_script(call.script.source)
    result = allocation.parse_claim(await script(keys=list(call.keys), args=list(call.args)))
    if result.ok and result.worker_id and result.address:
        return Claimed(worker_id=result.worker_id, address=result.address)
    return None


async def release_worker(redis: Redis, pool: str, claim: Claimed, call_id: str) -> None:
    """Give back a claimed worker that refused the call before it started."""
    call = allocation.release(claim.worker_id, pool, call_id)
    script = redis.register_script(call.script.source)
    await script(keys=list(call.keys), args=list(call.args))


def call_token(secret: str, call_id: str, claim: Claimed, ttl_s: int = TOKEN_TTL_S) -> str:
    """The token that lets ``call_id`` onto the worker it claimed, for ``ttl_s`` seconds."""
    return allocation.sign_call_token(
        secret, call_id=call_id, worker_id=claim.worker_id, expires_at=int(time.time()) + ttl_s
    )

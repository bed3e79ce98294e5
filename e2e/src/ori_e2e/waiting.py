"""Bounded waits for tests: poll a check until it answers something truthy, or fail clearly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis

from ori_contracts.allocation import WorkerState
from ori_operator.allocator import Allocator

__all__ = ["eventually", "worker_in_state"]

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    *,
    within_s: float = 30.0,
    every_s: float = 0.2,
) -> T:
    """Await ``check`` every ``every_s`` until it answers a truthy value, and return that value.

    Raises:
        AssertionError: ``within_s`` passed first; the message names ``what`` and the last answer.
    """
    deadline = time.monotonic() + within_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"timed out after {within_s:.0f} s waiting for {what} (last: {last!r})")


async def worker_in_state(
    redis: Redis, worker_id: str, state: WorkerState, *, within_s: float = 15.0
) -> None:
    """Wait until ``worker_id``'s registration in Redis says ``state``."""
    allocator = Allocator(redis)

    async def registered() -> bool:
        found = (await allocator.registrations([worker_id]))[worker_id]
        return found is not None and found.state is state

    await eventually(registered, f"{worker_id} to be {state}", within_s=within_s, every_s=0.1)

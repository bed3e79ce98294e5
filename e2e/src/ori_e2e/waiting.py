"""Bounded waits for tests: poll a check until it answers something truthy, or fail clearly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

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

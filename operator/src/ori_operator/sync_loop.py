"""The loop each kopf daemon runs for its object: a pass now, then again when woken or due.

Every pass is level-triggered: it reads the object and what it drives afresh, so a missed watch
event, a restart or a second operator taking over loses nothing; watch events only make the
next pass come sooner (`Wakeups`). A pass that did not settle (the backend is down, a reference
does not resolve yet) or that raised is retried after `Cadence.retry_s` instead of the full
interval. Every pass is counted and timed (`metrics.observe_reconcile`).

The decision of how long to wait is `Cadence.next_wait` (pure); `run_sync_loop` is the thin
asynchronous shell around it that the Bot, Campaign and FleetPool daemons share.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ori_operator import metrics
from ori_operator.context import Wakeups

__all__ = ["Cadence", "Outcome", "Stopped", "run_sync_loop"]

log = logging.getLogger(__name__)


class Outcome(Enum):
    """How one pass ended."""

    SETTLED = "settled"
    """Done: nothing to do until woken or the interval passes."""
    UNSETTLED = "unsettled"
    """Ran, but is waiting on something (the backend, a reference): look again soon."""
    FAILED = "failed"
    """Raised: logged, counted as an error, tried again soon."""


@dataclass(frozen=True)
class Cadence:
    """When the next pass comes if nothing wakes the loop."""

    interval_s: float
    """After a settled pass (drift correction, progress refresh)."""
    retry_s: float
    """After an unsettled or failed pass, if shorter than the interval."""

    def next_wait(self, outcome: Outcome) -> float:
        """Seconds to wait for a wake-up before the next pass."""
        if outcome is Outcome.SETTLED:
            return self.interval_s
        return min(self.interval_s, self.retry_s)


class Stopped(Protocol):
    """True once the loop must end, and awaitable until then (kopf's `DaemonStopped` is one)."""

    def __bool__(self) -> bool: ...

    def wait(self) -> Awaitable[object]:
        """Wait until it is true."""
        ...


async def run_sync_loop(
    one_pass: Callable[[], Awaitable[bool]],
    *,
    wakeups: Wakeups,
    namespace: str,
    key: str,
    stopped: Stopped,
    cadence: Cadence,
    kind: str,
    label: str,
) -> None:
    """Run `one_pass` until `stopped`: now, whenever `key` is woken, and per `cadence`.

    A stop ends the wait between two passes at once, so the daemon exits without being
    cancelled (a pass under way is finished first).

    Args:
        one_pass: One sync of the object; answers whether it settled.
        wakeups: Where watch events wake the loop.
        namespace: The object's namespace.
        key: The object's wake-up key within the namespace.
        stopped: Ends the loop once true (checked before every pass).
        cadence: The waits between passes.
        kind: The metrics label of the object's kind.
        label: How the object is named in the log.
    """
    wake = wakeups.event(namespace, key)
    try:
        while not stopped:
            wake.clear()
            outcome = await _attempt(one_pass, kind, label)
            await _sleep(wake, stopped, cadence.next_wait(outcome))
    finally:
        wakeups.forget(namespace, key)


async def _sleep(wake: asyncio.Event, stopped: Stopped, seconds: float) -> None:
    """Wait `seconds`, or less if the loop is woken or stopped."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


async def _attempt(one_pass: Callable[[], Awaitable[bool]], kind: str, label: str) -> Outcome:
    try:
        with metrics.observe_reconcile(kind):
            settled = await one_pass()
    except Exception:  # the top of a reconcile loop: log, count, retry soon
        log.exception("%s: sync failed; retrying", label)
        return Outcome.FAILED
    return Outcome.SETTLED if settled else Outcome.UNSETTLED

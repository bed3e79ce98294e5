"""Call slots: how many calls this worker process may hold, and whether it takes new ones.

A worker has ``MAX_CONCURRENT_CALLS`` slots (1 in production). A call holds a slot from the
moment it is accepted until its result is handed to the outbox. Once draining starts
(SIGTERM), no slot is granted again, and the process exits when the busy count reaches zero.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

PENDING_PREFIX = "pending-"
"""Slots taken before the call id is known (during the carrier's handshake) are named so."""


class NoFreeSlot(Exception):
    """Raised when a call arrives while every slot is busy or the worker is draining."""


@dataclass
class CallSlots:
    """Slot accounting for one worker process; safe within one event loop."""

    capacity: int
    busy: set[str] = field(default_factory=set)
    draining: bool = False
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._idle.set()

    @property
    def free(self) -> int:
        """Slots that could take a call now (0 while draining)."""
        return 0 if self.draining else self.capacity - len(self.busy)

    @property
    def calls(self) -> list[str]:
        """The ids of the calls holding a slot (not slots still waiting for their call id)."""
        return sorted(c for c in self.busy if not c.startswith(PENDING_PREFIX))

    @property
    def state(self) -> str:
        """``draining``, ``busy`` (no free slot) or ``idle``."""
        if self.draining:
            return "draining"
        return "busy" if self.free == 0 else "idle"

    def acquire(self, call_id: str) -> None:
        """Take a slot for ``call_id``, or raise :class:`NoFreeSlot`."""
        if call_id in self.busy:
            raise NoFreeSlot(f"call {call_id} already holds a slot")
        if self.free == 0:
            raise NoFreeSlot("draining" if self.draining else "all call slots are busy")
        self.busy.add(call_id)
        self._idle.clear()

    def rename(self, old: str, new: str) -> None:
        """Keep the slot held as ``old`` but hold it as ``new`` (once the call id is known).

        Raises:
            NoFreeSlot: ``old`` holds no slot, or ``new`` already holds one.
        """
        if old not in self.busy or new in self.busy:
            raise NoFreeSlot(f"cannot move slot {old} to call {new}")
        self.busy.discard(old)
        self.busy.add(new)

    def release(self, call_id: str) -> None:
        """Give back the slot held by ``call_id`` (a no-op if it holds none)."""
        self.busy.discard(call_id)
        if not self.busy:
            self._idle.set()

    def start_draining(self) -> None:
        """Refuse every new call from now on."""
        self.draining = True

    async def wait_idle(self) -> None:
        """Wait until no call holds a slot."""
        await self._idle.wait()

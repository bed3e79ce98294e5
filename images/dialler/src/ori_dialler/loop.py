"""The dialler's main loop: one tick every ``LOOP_INTERVAL_SECONDS``, with its health recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from motor.motor_asyncio import AsyncIOMotorDatabase
from prometheus_client import Counter, Gauge

from ori_dialler.fleet import FleetHost, poll_fleet

log = logging.getLogger(__name__)

TICKS = Counter("ori_dialler_ticks_total", "Pacing ticks run, by result.", ["result"])
FLEET_FREE = Gauge("ori_dialler_fleet_free_slots", "Free call slots across FLEET_URLS.")


@dataclass
class LoopState:
    """What the health endpoint reports about the loop."""

    started_at: float = field(default_factory=time.monotonic)
    last_tick_at: float | None = None
    ticks: int = 0
    last_error: str | None = None
    fleet: list[FleetHost] = field(default_factory=list)
    mongodb: str = "unknown"

    def tick_age(self, now: float) -> float:
        """Seconds since the last completed tick (or since start, before the first)."""
        return now - (self.last_tick_at if self.last_tick_at is not None else self.started_at)


async def tick(
    state: LoopState,
    db: AsyncIOMotorDatabase[dict[str, Any]],
    http: httpx.AsyncClient,
    fleet_urls: list[str],
) -> None:
    """Run one tick: check the shared database and refresh the fleet's free capacity."""
    try:
        await db.command("ping")
        state.mongodb = "ok"
    except Exception as error:  # noqa: BLE001 - reported in health; the loop keeps going
        state.mongodb = f"error: {type(error).__name__}"
    state.fleet = await poll_fleet(http, fleet_urls)
    FLEET_FREE.set(sum(h.free for h in state.fleet))
    state.last_tick_at = time.monotonic()
    state.ticks += 1


async def run_loop(
    state: LoopState,
    db: AsyncIOMotorDatabase[dict[str, Any]],
    http: httpx.AsyncClient,
    fleet_urls: list[str],
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """Tick until ``stop`` is set; a failing tick is logged and counted, never fatal."""
    while not stop.is_set():
        try:
            await tick(state, db, http, fleet_urls)
            TICKS.labels("ok").inc()
            state.last_error = None
        except Exception as error:
            TICKS.labels("error").inc()
            state.last_error = f"{type(error).__name__}: {error}"
            log.exception("dialler tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)

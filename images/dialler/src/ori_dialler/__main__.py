"""``ori-dialler``: the campaign dialler, an asyncio loop with a small health server."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import uvicorn
from motor.motor_asyncio import AsyncIOMotorClient

from ori_contracts.logs import configure_logging
from ori_dialler.health import create_health_app
from ori_dialler.loop import LoopState, run_loop
from ori_dialler.settings import DiallerSettings, get_settings


async def serve(settings: DiallerSettings) -> None:
    """Run the loop and the health server until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    state = LoopState()
    mongo: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(
        settings.mongodb_uri, serverSelectionTimeoutMS=3000, tz_aware=True
    )
    config = uvicorn.Config(
        create_health_app(state, settings.health_stale_seconds),
        host=settings.health_host,
        port=settings.health_port,
        log_config=None,
    )
    server = uvicorn.Server(config)
    fleet_urls = [str(u) for u in settings.fleet_urls]
    async with httpx.AsyncClient(timeout=2.0) as http:
        # uvicorn captures SIGINT/SIGTERM while it serves and re-raises them when it stops, so
        # the loop stops with the health server whichever of the two notices the signal first.
        health_task = asyncio.create_task(server.serve(), name="dialler-health")
        health_task.add_done_callback(lambda _: stop.set())
        try:
            await run_loop(
                state,
                mongo[settings.mongodb_db],
                http,
                fleet_urls,
                settings.loop_interval_seconds,
                stop,
            )
        finally:
            server.should_exit = True
            await health_task
            mongo.close()


def main() -> None:
    """Load settings (exiting if incomplete), then run until signalled."""
    settings = get_settings()
    configure_logging("ori-dialler", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()

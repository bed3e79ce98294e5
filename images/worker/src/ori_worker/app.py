"""The worker's FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import make_asgi_app

from ori_worker.settings import WorkerSettings
from ori_worker.slots import CallSlots

SERVICE = "ori-worker"


def create_app(settings: WorkerSettings) -> FastAPI:
    """Build the worker application for ``settings``."""
    slots = CallSlots(capacity=settings.max_concurrent_calls)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.slots = slots
        try:
            yield
        finally:
            slots.start_draining()
            await slots.wait_idle()

    app = FastAPI(title="Ori worker", version="0.1.0", lifespan=lifespan)
    app.mount("/metrics", make_asgi_app())

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, object]:
        """Report the call slots: capacity, busy, free, and whether the worker is draining."""
        return {
            "status": "draining" if slots.draining else "ok",
            "service": SERVICE,
            "state": slots.state,
            "slots": slots.capacity,
            "busy": len(slots.busy),
            "free": slots.free,
            "draining": slots.draining,
        }

    return app

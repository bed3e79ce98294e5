"""The dialler's small HTTP server: ``/health`` (tick freshness) and ``/metrics``."""

from __future__ import annotations

import time
from dataclasses import asdict

from prometheus_client import make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from ori_dialler.loop import LoopState


def create_health_app(state: LoopState, stale_after_s: float) -> Starlette:
    """Serve health for ``state``: 503 once the last tick is older than ``stale_after_s``."""

    async def health(_: Request) -> JSONResponse:
        age = state.tick_age(time.monotonic())
        fresh = age <= stale_after_s
        body = {
            "status": "ok" if fresh else "stale",
            "service": "ori-dialler",
            "tick_age_s": round(age, 3),
            "ticks": state.ticks,
            "last_error": state.last_error,
            "mongodb": state.mongodb,
            "fleet": [asdict(h) for h in state.fleet],
            "fleet_free_slots": sum(h.free for h in state.fleet),
        }
        return JSONResponse(body, status_code=200 if fresh else 503)

    return Starlette(routes=[Route("/health", health), Mount("/metrics", make_asgi_app())])

"""The backend's FastAPI application: clients opened once in the lifespan, routers mounted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from motor.motor_asyncio import AsyncIOMotorClient
from prometheus_client import make_asgi_app
from qdrant_client import AsyncQdrantClient
from redis.asyncio import Redis

from ori_backend.settings import BackendSettings

SERVICE = "ori-backend"


def create_app(settings: BackendSettings) -> FastAPI:
    """Build the backend application for ``settings``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(
            settings.mongodb_uri, serverSelectionTimeoutMS=3000, tz_aware=True
        )
        redis = Redis.from_url(settings.redis_url, socket_timeout=3)
        qdrant = open_qdrant(settings)
        app.state.settings = settings
        app.state.db = mongo[settings.mongodb_db]
        app.state.redis = redis
        app.state.qdrant = qdrant
        try:
            yield
        finally:
            await qdrant.close()
            await redis.aclose()
            mongo.close()

    app = FastAPI(title="Ori backend", version="0.1.0", lifespan=lifespan)
    app.mount("/metrics", make_asgi_app())

    @app.get("/health", tags=["health"])
    async def health(request: Request) -> JSONResponse:
        """Report whether MongoDB, Redis and Qdrant answer; 503 when any does not."""
        checks = {
            "mongodb": await _check(request.app.state.db.command("ping")),
            "redis": await _check(request.app.state.redis.ping()),
            "qdrant": await _check(request.app.state.qdrant.get_collections()),
        }
        healthy = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if healthy else "degraded", "service": SERVICE, "checks": checks}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app


def open_qdrant(settings: BackendSettings) -> AsyncQdrantClient:
    """A Qdrant client: the server at ``QDRANT_URL``, or embedded local mode at ``QDRANT_PATH``."""
    if settings.qdrant_url:
        return AsyncQdrantClient(url=settings.qdrant_url, timeout=5)
    return AsyncQdrantClient(path=settings.qdrant_path)


async def _check(awaitable: Any) -> str:
    try:
        await awaitable
    except Exception as error:  # noqa: BLE001 - any failure of a dependency is reported, not raised
        return f"error: {type(error).__name__}"
    return "ok"

"""The backend's FastAPI application: clients opened once in the lifespan, routers mounted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from motor.motor_asyncio import AsyncIOMotorClient
from prometheus_client import make_asgi_app
from qdrant_client import AsyncQdrantClient
from redis.asyncio import Redis

from ori_backend import errors
from ori_backend.api.router import api_router
from ori_backend.db import ensure_indexes
from ori_backend.observability import install_metrics, install_tracing
from ori_backend.repositories.contacts import discard_stale_imports
from ori_backend.services import contact_import
from ori_backend.services.embeddings import make_embedder
from ori_backend.services.recordings import open_storage
from ori_backend.services.webhooks import DeliveryWorker
from ori_backend.settings import BackendSettings

SERVICE = "ori-backend"

DESCRIPTION = """\
Ori's control plane. Operators authenticate with `Authorization: Bearer <token>`, where the
token is a session JWT (`POST /api/v1/auth/login`) or an API key, and choose a workspace with
`X-Workspace-Id`. Workers authenticate with the fleet secret or a per-call token. Every error
answers a `Problem` body (`code`, `message`, `details`). See `docs/api.md`.
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


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
        app.state.storage = open_storage(settings)
        app.state.embedder = make_embedder(settings)
        deliveries = DeliveryWorker(app.state.db)
        app.state.deliveries = deliveries
        try:
            await ensure_indexes(app.state.db)
            await discard_stale_imports(app.state.db)
            await contact_import.roll_back_stale(app.state.db)
            deliveries.start()
            yield
        finally:
            await deliveries.stop()
            await qdrant.close()
            await redis.aclose()
            mongo.close()

    app = FastAPI(
        title="Ori backend",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    errors.install(app)
    install_metrics(app, _operation_id)
    install_tracing(app, settings)
    app.include_router(api_router)
    app.mount("/metrics", make_asgi_app())

    @app.get("/health", tags=["health"], summary="Dependency health")
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

"""Backend test fixtures: the real app over real FerretDB, Redis, MinIO and Qdrant local mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ori_backend.app import create_app
from ori_backend.settings import BackendSettings
from ori_e2e.backend import (
    FLEET_SECRET,
    JWT_SECRET,
    Account,
    BotSpecFactory,
    Signup,
    bot_spec,
    create_api_key,
    sign_up,
)


def make_settings(**overrides: Any) -> BackendSettings:
    values: dict[str, Any] = {
        "mongodb_uri": "mongodb://127.0.0.1:1",
        "mongodb_db": "unused",
        "redis_url": "redis://127.0.0.1:1",
        "jwt_secret": JWT_SECRET,
        "voxcore_wss_base_url": "ws://127.0.0.1:8001/ws",
        "voxcore_secret": FLEET_SECRET,
    }
    return BackendSettings.model_validate({**values, **overrides})


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    mongo_server: Any,
    mongo_db_name: str,
    redis_url: str,
    tmp_path: Path,
) -> BackendSettings:
    return make_settings(
        mongodb_uri=mongo_server.url,
        mongodb_db=mongo_db_name,
        redis_url=redis_url,
        qdrant_path=str(tmp_path / "qdrant"),
    )


@pytest.fixture
def app(settings: BackendSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as http:
            yield http


@pytest.fixture
def signup(client: httpx.AsyncClient) -> Signup:
    """Sign up a fresh account (its own workspace, as admin)."""

    async def make(email: str | None = None) -> Account:
        return await sign_up(client, email)

    return make


@pytest.fixture(name="bot_spec")
def _bot_spec() -> BotSpecFactory:
    return bot_spec


@pytest.fixture
async def developer_key(client: httpx.AsyncClient, signup: Signup) -> tuple[Account, str]:
    """An account and a developer API key of its workspace."""
    account = await signup()
    return account, await create_api_key(client, account, name="dev")

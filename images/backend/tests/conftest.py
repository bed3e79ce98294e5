"""Backend test fixtures: the real app over real FerretDB, Redis, MinIO and Qdrant local mode."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ori_backend.app import create_app
from ori_backend.settings import BackendSettings
from ori_contracts.testing import make_runtime_config

FLEET_SECRET = "fleet-secret-for-tests-0123456789"
_counter = itertools.count()


@dataclass
class Account:
    """A signed-up account and the headers that act as it in its own workspace."""

    email: str
    token: str
    workspace_id: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Workspace-Id": self.workspace_id}


def make_settings(**overrides: Any) -> BackendSettings:
    values: dict[str, Any] = {
        "mongodb_uri": "mongodb://127.0.0.1:1",
        "mongodb_db": "unused",
        "redis_url": "redis://127.0.0.1:1",
        "jwt_secret": "test-jwt-secret-0123456789abcdef",
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


Signup = Callable[..., Awaitable[Account]]


@pytest.fixture
def signup(client: httpx.AsyncClient) -> Signup:
    """Sign up a fresh account (its own workspace, as admin)."""

    async def make(email: str | None = None) -> Account:
        email = email or f"user{next(_counter)}@example.com"
        answer = await client.post(
            "/api/v1/auth/signup",
            json={"email": email, "password": "correct horse battery", "name": "Test User"},
        )
        assert answer.status_code == 201, answer.text
        token = answer.json()["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        spaces = await client.get(
            "/api/v1/workspaces", headers={"Authorization": f"Bearer {token}"}
        )
        return Account(email, token, spaces.json()[0]["id"], me.json()["id"])

    return make


def bot_spec(**overrides: Any) -> dict[str, Any]:
    """A valid bot definition (the demo bot, without knowledge bases) as JSON."""
    config = make_runtime_config().model_dump(mode="json")
    keep = [
        "persona",
        "stt",
        "llm",
        "tts",
        "vad",
        "turn",
        "tools",
        "analysis_fields",
        "qc_rules",
        "dispositions",
        "default_disposition",
        "recording",
        "limits",
    ]
    spec = {key: config[key] for key in keep}
    spec["tools"] = [t for t in spec["tools"] if t["type"] != "search_knowledge"]
    return {"name": "Front desk", **spec, **overrides}


BotSpecFactory = Callable[..., dict[str, Any]]


@pytest.fixture(name="bot_spec")
def _bot_spec() -> BotSpecFactory:
    return bot_spec


@pytest.fixture
async def developer_key(client: httpx.AsyncClient, signup: Signup) -> tuple[Account, str]:
    """An account and a developer API key of its workspace."""
    account = await signup()
    answer = await client.post(
        "/api/v1/api-keys", json={"name": "dev", "role": "developer"}, headers=account.headers
    )
    return account, answer.json()["secret"]

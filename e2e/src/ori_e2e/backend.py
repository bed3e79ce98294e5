"""The backend as a process of its own, and the set-up steps every backend client starts with.

Shared by the backend's tests (in process, over ASGI), its benchmark and the cross-service tests,
so none of them copies another's set-up:

* `run_backend` starts `python -m ori_backend` on loopback against the given MongoDB and Redis
  (Qdrant in local mode under the directory) and stops it afterwards;
* `sign_up` makes an account with a workspace of its own (as its admin), `create_api_key` an API
  key in it (`manager="kubernetes"` for the operator's), and `bot_spec` a valid bot definition.

The helpers take an `httpx.AsyncClient` whose base URL is the backend's root (a real port or an
ASGI transport) and speak only HTTP, so nothing here imports the backend.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ori_contracts.testing import make_runtime_config
from ori_e2e.servers import HOST, ManagedProcess, free_port, http_probe

__all__ = [
    "FLEET_SECRET",
    "PASSWORD",
    "Account",
    "BotSpecFactory",
    "Signup",
    "RunningBackend",
    "backend_env",
    "bot_spec",
    "create_api_key",
    "run_backend",
    "sign_up",
]

PASSWORD = "correct horse battery"  # noqa: S105 - throwaway accounts of local test servers
FLEET_SECRET = "fleet-secret-for-tests-0123456789"  # noqa: S105 - as above
"""`VOXCORE_SECRET` of test backends: what workers present to fetch configs and post results."""
JWT_SECRET = "test-jwt-secret-0123456789abcdef"  # noqa: S105 - as above

_BOT_FIELDS = (
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
)


@dataclass(frozen=True)
class Account:
    """A signed-up account and the headers that act as it in its own workspace."""

    email: str
    token: str
    workspace_id: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        """`Authorization` and `X-Workspace-Id` of the account's own workspace."""
        return {"Authorization": f"Bearer {self.token}", "X-Workspace-Id": self.workspace_id}


Signup = Callable[..., Awaitable[Account]]
"""The backend tests' ``signup`` fixture: a fresh account, its own workspace, as admin."""
BotSpecFactory = Callable[..., dict[str, Any]]
"""The backend tests' ``bot_spec`` fixture: :func:`bot_spec`."""


async def sign_up(
    http: httpx.AsyncClient, email: str | None = None, *, name: str = "Test User"
) -> Account:
    """Sign up an account (a fresh e-mail unless given): its own workspace, as admin."""
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
    answer = await http.post(
        "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": name}
    )
    if answer.status_code != httpx.codes.CREATED:
        raise AssertionError(f"sign-up of {email} answered {answer.status_code}: {answer.text}")
    token = answer.json()["access_token"]
    session = {"Authorization": f"Bearer {token}"}
    me = await http.get("/api/v1/auth/me", headers=session)
    spaces = await http.get("/api/v1/workspaces", headers=session)
    return Account(email, token, spaces.json()[0]["id"], me.json()["id"])


async def create_api_key(
    http: httpx.AsyncClient,
    account: Account,
    *,
    role: str = "developer",
    manager: str | None = None,
    name: str = "key",
) -> str:
    """An API key of the account's workspace (its secret, shown once)."""
    body: dict[str, str] = {"name": name, "role": role}
    if manager is not None:
        body["manager"] = manager
    answer = await http.post("/api/v1/api-keys", json=body, headers=account.headers)
    if answer.status_code != httpx.codes.CREATED:
        raise AssertionError(f"API key not created: {answer.status_code}: {answer.text}")
    secret: str = answer.json()["secret"]
    return secret


def bot_spec(**overrides: Any) -> dict[str, Any]:
    """A valid bot definition (the demo bot, without knowledge bases) as JSON."""
    config = make_runtime_config().model_dump(mode="json")
    spec = {key: config[key] for key in _BOT_FIELDS}
    spec["tools"] = [t for t in spec["tools"] if t["type"] != "search_knowledge"]
    return {"name": "Front desk", **spec, **overrides}


def backend_env(
    directory: Path, *, mongodb_uri: str, mongodb_db: str, redis_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a test backend; `extra` adds or overrides variables."""
    return {
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DB": mongodb_db,
        "REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
        "VOXCORE_WSS_BASE_URL": f"ws://{HOST}:9/ws",
        "VOXCORE_SECRET": FLEET_SECRET,
        "QDRANT_PATH": str(directory / "qdrant"),
        **extra,
    }


@dataclass(frozen=True)
class RunningBackend:
    """A backend process that answers `/health`."""

    url: str
    process: ManagedProcess

    @property
    def pid(self) -> int:
        """Its process id."""
        if self.process.pid is None:
            raise RuntimeError("the backend process has not started")
        return self.process.pid


@contextmanager
def run_backend(
    directory: Path, env: Mapping[str, str], *, timeout: float = 60.0
) -> Iterator[RunningBackend]:
    """Start `python -m ori_backend` on a free loopback port; stop it on leaving.

    Args:
        directory: Its working directory and log (`backend.log`).
        env: Its environment (see `backend_env`).
        timeout: Seconds to wait for `/health`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = ManagedProcess(
        "ori-backend",
        [sys.executable, "-m", "ori_backend", "--host", HOST, "--port", str(port)],
        log_path=directory / "backend.log",
        env=dict(env),
        cwd=directory,
    )
    url = f"http://{HOST}:{port}"
    process.start(http_probe(f"{url}/health"), timeout=timeout)
    try:
        yield RunningBackend(url, process)
    finally:
        process.stop()

"""Dependencies as ``Annotated`` aliases: clients, settings and who is calling.

Operators authenticate with ``Authorization: Bearer <session JWT or API key>`` and choose the
workspace with ``X-Workspace-Id`` (sessions only; an API key has one workspace). Workers
authenticate with the shared ``VOXCORE_SECRET`` or a per-call token (:class:`FleetCaller`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from qdrant_client import AsyncQdrantClient
from redis.asyncio import Redis

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import Forbidden, Unauthorized
from ori_backend.schemas.common import Principal, Role
from ori_backend.services import identity
from ori_backend.settings import BackendSettings

__all__ = [
    "AdminDep",
    "CurrentUser",
    "DbDep",
    "DeveloperDep",
    "FleetCaller",
    "FleetDep",
    "MemberDep",
    "QdrantDep",
    "RedisDep",
    "SettingsDep",
    "bearer_scheme",
    "fleet_caller",
    "is_fleet_token",
    "require",
]

# The request-state accessors are ``async def`` on purpose: FastAPI runs a plain ``def``
# dependency in a worker thread, a thread hop per dependency per request for a field read.


bearer_scheme = HTTPBearer(auto_error=False, description="A session JWT or an API key (`ori_...`).")


async def _db(request: Request) -> Db:
    db: Db = request.app.state.db
    return db


async def _redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


async def _qdrant(request: Request) -> AsyncQdrantClient:
    qdrant: AsyncQdrantClient = request.app.state.qdrant
    return qdrant


async def _settings(request: Request) -> BackendSettings:
    settings: BackendSettings = request.app.state.settings
    return settings


DbDep = Annotated[Db, Depends(_db)]
RedisDep = Annotated[Redis, Depends(_redis)]
QdrantDep = Annotated[AsyncQdrantClient, Depends(_qdrant)]
SettingsDep = Annotated[BackendSettings, Depends(_settings)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
WorkspaceHeader = Annotated[
    str | None,
    Header(
        alias="X-Workspace-Id",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Workspace to act in (sessions only); default: your oldest workspace.",
    ),
]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "authentication required: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


async def _current_user(db: DbDep, settings: SettingsDep, credentials: Bearer) -> dict[str, Any]:
    token = _token(credentials)
    if token.startswith(security.API_KEY_PREFIX):
        raise Forbidden("this endpoint needs a person's session, not an API key")
    return await identity.session_user(db, settings, token)


CurrentUser = Annotated[dict[str, Any], Depends(_current_user)]


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency resolving the caller's principal and checking it has ``role``."""

    async def dependency(
        db: DbDep, settings: SettingsDep, credentials: Bearer, workspace_id: WorkspaceHeader = None
    ) -> Principal:
        principal = await identity.authenticate(db, settings, _token(credentials), workspace_id)
        if not principal.role.includes(role):
            raise Forbidden(f"this needs the {role} role; you are {principal.role}")
        return principal

    return dependency


MemberDep = Annotated[Principal, Depends(require(Role.MEMBER))]
DeveloperDep = Annotated[Principal, Depends(require(Role.DEVELOPER))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]


@dataclass(frozen=True)
class FleetCaller:
    """A worker (or dialler): trusted fleet-wide, or only for one call."""

    call_id: str | None
    """The call a per-call token opens; None for the shared secret (any call)."""

    def check_call(self, call_id: str) -> None:
        """Refuse a per-call token used for another call.

        Raises:
            Forbidden: The token is for a different call.
        """
        if self.call_id is not None and self.call_id != call_id:
            raise Forbidden("this call token is for another call")


def is_fleet_token(settings: BackendSettings, token: str) -> bool:
    """Whether ``token`` is the fleet secret or a call token (rather than an operator's)."""
    shared = settings.voxcore_secret
    if shared is not None and hmac.compare_digest(
        token.encode(), shared.get_secret_value().encode()
    ):
        return True
    return token.startswith(security.CALL_TOKEN_VERSION + ".")


async def fleet_caller(settings: SettingsDep, credentials: Bearer) -> FleetCaller:
    """The worker behind a fleet secret or call token.

    Raises:
        Unauthorized: Neither.
    """
    token = _token(credentials)
    shared = settings.voxcore_secret
    if shared is not None and hmac.compare_digest(
        token.encode(), shared.get_secret_value().encode()
    ):
        return FleetCaller(call_id=None)
    if token.startswith(security.CALL_TOKEN_VERSION + "."):
        try:
            call_id = security.verify_call_token(
                token, secret=settings.jwt_secret.get_secret_value()
            )
        except security.CallTokenError as error:
            raise Unauthorized(str(error)) from None
        return FleetCaller(call_id=call_id)
    raise Unauthorized("send the fleet secret (VOXCORE_SECRET) or a call token")


FleetDep = Annotated[FleetCaller, Depends(fleet_caller)]

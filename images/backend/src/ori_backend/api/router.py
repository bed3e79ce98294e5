"""The ``/api/v1`` router: every resource router, mounted once."""

from __future__ import annotations

from fastapi import APIRouter

from ori_backend.api.routes import (
    api_keys,
    auth,
    bots,
    calls,
    campaigns,
    dnc,
    fleet,
    inbound,
    knowledge,
    webhooks,
    workspaces,
)

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api/v1")
# The workers' endpoints first: routes are matched in order, and `/config` is the hot path.
_MODULES = (
    fleet,
    inbound,
    auth,
    workspaces,
    api_keys,
    bots,
    campaigns,
    dnc,
    knowledge,
    webhooks,
    calls,
)
for module in _MODULES:
    api_router.include_router(module.router)

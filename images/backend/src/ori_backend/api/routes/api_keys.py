"""API keys for programmatic access: shown once, stored hashed, revocable."""

from __future__ import annotations

from fastapi import APIRouter, status

from ori_backend.api.deps import AdminDep, DbDep
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound
from ori_backend.repositories import identity as repo
from ori_backend.schemas.auth import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, public
from ori_backend.services import identity

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.get("", summary="List API keys", responses=errors(403))
async def list_api_keys(db: DbDep, principal: AdminDep) -> list[ApiKeyPublic]:
    """The workspace's keys, newest first, without secrets (admin)."""
    keys = await repo.list_api_keys(db, principal.workspace_id)
    return [ApiKeyPublic.model_validate(public(k)) for k in keys]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    responses=errors(403),
)
async def create_api_key(body: ApiKeyCreate, db: DbDep, principal: AdminDep) -> ApiKeyCreated:
    """Mint a key with a role no higher than yours (admin). The secret is shown only here."""
    doc, secret = await identity.create_api_key(
        db, principal, name=body.name, role=body.role, manager=body.manager
    )
    return ApiKeyCreated.model_validate({**public(doc), "secret": secret})


@router.delete("/{key_id}", summary="Revoke an API key", responses=errors(403, 404))
async def revoke_api_key(key_id: str, db: DbDep, principal: AdminDep) -> ApiKeyPublic:
    """Revoke a key at once (admin); requests with it then answer 401. Idempotent."""
    doc = await repo.revoke_api_key(db, principal.workspace_id, key_id)
    if doc is None:
        raise NotFound(f"API key {key_id} not found")
    return ApiKeyPublic.model_validate(public(doc))

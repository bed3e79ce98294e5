"""The workspace's do-not-call list, checked on every contact import."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from ori_backend.api.deps import DbDep, DeveloperDep, MemberDep
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound
from ori_backend.repositories import contacts as repo
from ori_backend.schemas.campaigns import DncCreate, DncPublic

router = APIRouter(prefix="/dnc", tags=["dnc"])


@router.get("", summary="List do-not-call numbers", responses=errors(403))
async def list_dnc(db: DbDep, principal: MemberDep) -> list[DncPublic]:
    """Every number on the list."""
    return [DncPublic.model_validate(d) for d in await repo.list_dnc(db, principal.workspace_id)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add do-not-call numbers",
    responses=errors(403),
)
async def add_dnc(body: DncCreate, db: DbDep, principal: DeveloperDep) -> list[DncPublic]:
    """Add numbers (developer); adding one twice is harmless."""
    await repo.add_dnc(db, principal.workspace_id, body.numbers, datetime.now(UTC))
    return await list_dnc(db, principal)


@router.delete(
    "/{phone}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a do-not-call number",
    responses=errors(403, 404),
)
async def remove_dnc(phone: str, db: DbDep, principal: DeveloperDep) -> None:
    """Remove a number (developer)."""
    if not await repo.remove_dnc(db, principal.workspace_id, phone):
        raise NotFound(f"{phone} is not on the do-not-call list")

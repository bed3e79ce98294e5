"""Workspaces, their settings and members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from ori_backend.api.deps import AdminDep, CurrentUser, DbDep, MemberDep
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound
from ori_backend.repositories import identity as repo
from ori_backend.schemas.auth import (
    MemberCreate,
    MemberPublic,
    MemberUpdate,
    WorkspaceCreate,
    WorkspacePublic,
    WorkspaceUpdate,
    public,
)
from ori_backend.schemas.common import Principal, Role
from ori_backend.services import identity

router = APIRouter(tags=["workspaces"])


def _public(doc: dict[str, Any], role: Role | str | None) -> WorkspacePublic:
    return WorkspacePublic.model_validate({**public(doc), "role": role})


async def _current(db: DbDep, principal: Principal) -> dict[str, Any]:
    workspace = await repo.get_workspace(db, principal.workspace_id)
    if workspace is None:
        raise NotFound("workspace not found")
    return workspace


@router.get("/workspaces", summary="Workspaces you belong to", responses=errors(403))
async def list_workspaces(db: DbDep, user: CurrentUser) -> list[WorkspacePublic]:
    """Your workspaces and your role in each (a superuser sees every workspace)."""
    roles = {m["workspace_id"]: m["role"] for m in await repo.list_memberships_of(db, user["_id"])}
    ids = None if user.get("superuser") else list(roles)
    return [_public(w, roles.get(w["_id"])) for w in await repo.list_workspaces(db, ids)]


@router.post(
    "/workspaces",
    status_code=status.HTTP_201_CREATED,
    summary="Create a workspace",
    responses=errors(403),
)
async def create_workspace(body: WorkspaceCreate, db: DbDep, user: CurrentUser) -> WorkspacePublic:
    """Create a workspace; you become its admin."""
    workspace = await identity.create_workspace_for(db, user["_id"], body.name)
    return _public(workspace, Role.ADMIN)


@router.get("/workspace", summary="The current workspace", responses=errors(403, 404))
async def read_workspace(db: DbDep, principal: MemberDep) -> WorkspacePublic:
    """The workspace you act in (``X-Workspace-Id``), with its settings."""
    return _public(await _current(db, principal), principal.role)


@router.patch(
    "/workspace", summary="Rename or re-configure the workspace", responses=errors(403, 404)
)
async def update_workspace(
    body: WorkspaceUpdate, db: DbDep, principal: AdminDep
) -> WorkspacePublic:
    """Change the name or replace the settings (admin)."""
    changes = body.model_dump(exclude_none=True)
    workspace = (
        await repo.update_workspace(db, principal.workspace_id, changes)
        if changes
        else await _current(db, principal)
    )
    if workspace is None:
        raise NotFound("workspace not found")
    return _public(workspace, principal.role)


@router.get("/workspace/members", summary="Members of the workspace", responses=errors(403))
async def list_members(db: DbDep, principal: MemberDep) -> list[MemberPublic]:
    """Everyone in the workspace and their roles."""
    members = await repo.list_members(db, principal.workspace_id)
    return [MemberPublic.model_validate(m) for m in members]


@router.post(
    "/workspace/members",
    status_code=status.HTTP_201_CREATED,
    summary="Add a member",
    responses=errors(403, 404, 409),
)
async def add_member(body: MemberCreate, db: DbDep, principal: AdminDep) -> MemberPublic:
    """Add an existing account to the workspace with a role (admin)."""
    member = await identity.add_member(db, principal.workspace_id, body.email, body.role)
    return MemberPublic.model_validate(member)


@router.patch(
    "/workspace/members/{user_id}",
    summary="Change a member's role",
    responses=errors(403, 404, 409),
)
async def update_member(
    user_id: str, body: MemberUpdate, db: DbDep, principal: AdminDep
) -> list[MemberPublic]:
    """Change a member's role (admin); a workspace always keeps one admin."""
    await identity.change_member_role(db, principal.workspace_id, user_id, body.role)
    return await list_members(db, principal)


@router.delete(
    "/workspace/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    responses=errors(403, 404, 409),
)
async def remove_member(user_id: str, db: DbDep, principal: AdminDep) -> None:
    """Remove a member (admin); a workspace always keeps one admin."""
    await identity.remove_member(db, principal.workspace_id, user_id)

"""Accounts, sessions, workspaces, members and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from ori_backend.schemas.common import Role

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "Email",
    "LoginRequest",
    "MemberCreate",
    "MemberPublic",
    "MemberUpdate",
    "SignupRequest",
    "TokenPublic",
    "UserPublic",
    "WorkspaceCreate",
    "WorkspacePublic",
    "WorkspaceSettings",
    "WorkspaceUpdate",
]

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SignupRequest(BaseModel):
    """A new account; it gets a workspace of its own, as its admin."""

    email: Email = Field(description="Login e-mail address.", examples=["ada@example.com"])
    password: Password = Field(description="At least 8 characters.")
    name: Name = Field(description="Display name.", examples=["Ada Lovelace"])
    workspace_name: Name | None = Field(
        default=None, description="Name of the new workspace; default: the person's name."
    )


class LoginRequest(BaseModel):
    """E-mail and password."""

    email: Email = Field(description="Login e-mail address.")
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="Password."
    )


class TokenPublic(BaseModel):
    """A session token; send it as ``Authorization: Bearer <access_token>``."""

    access_token: str = Field(description="The session JWT.")
    token_type: str = Field(default="bearer", description="Always `bearer`.")
    expires_in: int = Field(description="Seconds until it expires.")


class UserPublic(BaseModel):
    """An account."""

    id: str = Field(description="User id.")
    email: str = Field(description="Login e-mail address.")
    name: str = Field(description="Display name.")
    superuser: bool = Field(description="Platform administrator.")
    created_at: datetime = Field(description="When the account was created.")


class WorkspaceSettings(BaseModel):
    """Workspace-wide settings."""

    timezone: str = Field(
        default="UTC",
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
        description="Default IANA time zone for campaigns and reports.",
    )
    default_country: str = Field(
        default="US",
        pattern=r"^[A-Z]{2}$",
        description="ISO country used to read phone numbers written without a `+` prefix.",
    )
    recording_retention_days: int | None = Field(
        default=None, ge=1, description="Days to keep recordings; None: keep indefinitely."
    )
    dnc_numbers_enforced: bool = Field(
        default=True, description="Refuse contacts on the workspace's do-not-call list."
    )


class WorkspaceCreate(BaseModel):
    """A new workspace; the creator becomes its admin."""

    name: Name = Field(description="Workspace name.")


class WorkspaceUpdate(BaseModel):
    """Changes to a workspace; omitted fields stay as they are."""

    name: Name | None = Field(default=None, description="Workspace name.")
    settings: WorkspaceSettings | None = Field(default=None, description="Replaces the settings.")


class WorkspacePublic(BaseModel):
    """A workspace (tenant) and the caller's role in it."""

    id: str = Field(description="Workspace id; send it as `X-Workspace-Id` to act in it.")
    name: str = Field(description="Workspace name.")
    settings: WorkspaceSettings = Field(description="Workspace settings.")
    role: Role | None = Field(default=None, description="The caller's role here.")
    created_at: datetime = Field(description="When it was created.")


class MemberCreate(BaseModel):
    """Add an existing account to the workspace."""

    email: Email = Field(description="The account's e-mail address.")
    role: Role = Field(default=Role.MEMBER, description="Role in this workspace.")


class MemberUpdate(BaseModel):
    """Change a member's role."""

    role: Role = Field(description="New role.")


class MemberPublic(BaseModel):
    """A member of the workspace."""

    user_id: str = Field(description="User id.")
    email: str = Field(description="E-mail address.")
    name: str = Field(description="Display name.")
    role: Role = Field(description="Role in this workspace.")


class ApiKeyCreate(BaseModel):
    """A new API key of this workspace."""

    name: Name = Field(description="What the key is for.", examples=["ci-deployer"])
    role: Role = Field(default=Role.DEVELOPER, description="Role the key acts with.")
    manager: Annotated[str, StringConstraints(pattern=r"^kubernetes$")] | None = Field(
        default=None,
        description="`kubernetes` for the operator's key: bots it writes are read-only "
        "through the API.",
    )


class ApiKeyPublic(BaseModel):
    """An API key, without its secret."""

    id: str = Field(description="Key id.")
    name: str = Field(description="What the key is for.")
    role: Role = Field(description="Role the key acts with.")
    manager: str | None = Field(default=None, description="`kubernetes` for the operator.")
    prefix: str = Field(description="First characters of the key, to recognise it.")
    created_at: datetime = Field(description="When it was created.")
    revoked_at: datetime | None = Field(default=None, description="When it was revoked.")
    last_used_at: datetime | None = Field(default=None, description="Last successful use.")


class ApiKeyCreated(ApiKeyPublic):
    """A new API key. ``secret`` is shown this once and never again."""

    secret: str = Field(description="The key; send as `Authorization: Bearer <secret>`.")


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document with ``_id`` renamed to ``id``."""
    out = dict(doc)
    out["id"] = out.pop("_id")
    return out

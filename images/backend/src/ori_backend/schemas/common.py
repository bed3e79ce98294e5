"""Models shared by several resources: roles, the principal, pages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Message", "Page", "Principal", "Role"]

T = TypeVar("T")


class Role(StrEnum):
    """A member's role in a workspace; each includes the rights of the ones before it."""

    MEMBER = "member"
    """View bots, campaigns, calls, knowledge bases and webhooks."""
    DEVELOPER = "developer"
    """Also create and edit bots, campaigns, contacts, knowledge bases, webhooks; place calls."""
    ADMIN = "admin"
    """Also manage the workspace, its members, settings and API keys."""

    @property
    def rank(self) -> int:
        """Position in member < developer < admin."""
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role has at least ``other``'s rights."""
        return self.rank >= other.rank


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which workspace, with which role."""

    workspace_id: str
    role: Role
    user_id: str | None = None
    api_key_id: str | None = None
    superuser: bool = False
    manager: str | None = None
    """``kubernetes`` for the operator's API key; None for people and other keys."""

    @property
    def actor(self) -> str:
        """A short description for audit fields: ``user:<id>`` or ``api-key:<id>``."""
        return f"user:{self.user_id}" if self.user_id else f"api-key:{self.api_key_id}"


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next page."""

    model_config = ConfigDict(arbitrary_types_allowed=False)

    data: list[T] = Field(description="The items, newest first unless stated otherwise.")
    next_cursor: str | None = Field(
        default=None, description="Cursor of the next page; None on the last page."
    )


class Message(BaseModel):
    """A short confirmation."""

    message: str = Field(description="What happened.")

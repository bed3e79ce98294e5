"""Bots and their versions. A bot's definition is the shared `BotSpec` contract."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ori_contracts.bot_spec import BotSpec

__all__ = ["BotPublic", "BotVersionPublic"]


class BotPublic(BaseModel):
    """A bot at its current version."""

    id: str = Field(description="Bot id; the worker's inbound routes use it (`/ws/{bot_id}`).")
    version: int = Field(description="Current version; every change makes a new one.")
    managed_by: str = Field(description="`api`, or `kubernetes` for bots of `Bot` resources.")
    read_only: bool = Field(
        description="True when managed from Kubernetes: edit the `Bot` resource, not the API."
    )
    external_ref: str | None = Field(
        default=None, description="`<namespace>.<name>` of the `Bot` resource, if any."
    )
    spec: BotSpec = Field(description="The definition at the current version.")
    created_at: datetime = Field(description="When the bot was created.")
    updated_at: datetime = Field(description="When its current version was made.")


class BotVersionPublic(BaseModel):
    """One immutable version of a bot."""

    bot_id: str = Field(description="The bot.")
    version: int = Field(description="Version number, from 1.")
    spec: BotSpec = Field(description="The definition at this version.")
    created_at: datetime = Field(description="When this version was made.")
    created_by: str = Field(description="`user:<id>` or `api-key:<id>`.")

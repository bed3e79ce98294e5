"""Bots and their immutable versions (collections ``bots`` and ``bot_versions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db

__all__ = [
    "DuplicateKeyError",
    "advance",
    "get",
    "get_any_workspace",
    "get_by_ref",
    "get_version",
    "insert",
    "insert_version",
    "list_bots",
    "list_versions",
    "mark_deleted",
]

Doc = dict[str, Any]


async def insert(db: Db, doc: Doc) -> None:
    """Insert a bot; raises DuplicateKeyError when the id exists."""
    await db[COLLECTIONS["bots"]].insert_one(doc)


async def insert_version(db: Db, doc: Doc) -> None:
    """Insert a version; raises DuplicateKeyError when (bot_id, version) exists."""
    await db[COLLECTIONS["bot_versions"]].insert_one(doc)


async def get(db: Db, workspace_id: str, bot_id: str, *, deleted: bool = False) -> Doc | None:
    """A workspace's bot (a deleted one only when ``deleted``)."""
    query: Doc = {"_id": bot_id, "workspace_id": workspace_id}
    if not deleted:
        query["deleted_at"] = None
    result: Doc | None = await db[COLLECTIONS["bots"]].find_one(query)
    return result


async def get_any_workspace(db: Db, bot_id: str) -> Doc | None:
    """A live bot by id, whatever its workspace (inbound calls name only the bot)."""
    result: Doc | None = await db[COLLECTIONS["bots"]].find_one({"_id": bot_id, "deleted_at": None})
    return result


async def get_by_ref(db: Db, workspace_id: str, ref: str) -> Doc | None:
    """A bot by its Kubernetes reference, deleted or not."""
    result: Doc | None = await db[COLLECTIONS["bots"]].find_one(
        {"workspace_id": workspace_id, "external_ref": ref}
    )
    return result


async def list_bots(db: Db, workspace_id: str, *, limit: int, after: str | None) -> list[Doc]:
    """A page of a workspace's live bots, by id."""
    query: Doc = {"workspace_id": workspace_id, "deleted_at": None}
    if after:
        query["_id"] = {"$gt": after}
    cursor = db[COLLECTIONS["bots"]].find(query).sort("_id", 1).limit(limit)
    return list(await cursor.to_list(length=None))


async def advance(db: Db, bot_id: str, from_version: int, changes: Doc) -> bool:
    """Move a bot to a new version if it is still at ``from_version``."""
    result = await db[COLLECTIONS["bots"]].update_one(
        {"_id": bot_id, "version": from_version}, {"$set": changes}
    )
    return bool(result.modified_count)


async def mark_deleted(db: Db, bot_id: str, when: datetime) -> None:
    """Hide a bot (its versions stay: call records name them)."""
    await db[COLLECTIONS["bots"]].update_one({"_id": bot_id}, {"$set": {"deleted_at": when}})


async def get_version(db: Db, bot_id: str, version: int) -> Doc | None:
    """One version of a bot."""
    result: Doc | None = await db[COLLECTIONS["bot_versions"]].find_one(
        {"bot_id": bot_id, "version": version}
    )
    return result


async def list_versions(db: Db, bot_id: str) -> list[Doc]:
    """Every version of a bot, newest first."""
    cursor = db[COLLECTIONS["bot_versions"]].find({"bot_id": bot_id}).sort("version", -1)
    return list(await cursor.to_list(length=None))

"""Users, workspaces, memberships and API keys.

Collections ``users``, ``workspaces``, ``memberships`` and ``api_keys``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db

__all__ = [
    "DuplicateKeyError",
    "add_membership",
    "count_admins",
    "create_api_key",
    "create_user",
    "create_workspace",
    "find_api_key",
    "get_membership",
    "get_user",
    "get_user_by_email",
    "get_workspace",
    "list_api_keys",
    "list_members",
    "list_memberships_of",
    "list_workspaces",
    "remove_membership",
    "revoke_api_key",
    "set_member_role",
    "touch_api_key",
    "update_workspace",
]

Doc = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


async def create_user(db: Db, doc: Doc) -> Doc:
    """Insert a user; raises DuplicateKeyError when the e-mail is taken."""
    doc = {**doc, "created_at": _now()}
    await db[COLLECTIONS["users"]].insert_one(doc)
    return doc


async def get_user(db: Db, user_id: str) -> Doc | None:
    """A user by id."""
    result: Doc | None = await db[COLLECTIONS["users"]].find_one({"_id": user_id})
    return result


async def get_user_by_email(db: Db, email: str) -> Doc | None:
    """A user by (lower-case) e-mail."""
    result: Doc | None = await db[COLLECTIONS["users"]].find_one({"email": email})
    return result


async def create_workspace(db: Db, doc: Doc) -> Doc:
    """Insert a workspace."""
    doc = {**doc, "created_at": _now()}
    await db[COLLECTIONS["workspaces"]].insert_one(doc)
    return doc


async def get_workspace(db: Db, workspace_id: str) -> Doc | None:
    """A workspace by id."""
    result: Doc | None = await db[COLLECTIONS["workspaces"]].find_one({"_id": workspace_id})
    return result


async def list_workspaces(db: Db, ids: list[str] | None) -> list[Doc]:
    """Workspaces by id (all of them when ``ids`` is None), oldest first."""
    query: Doc = {} if ids is None else {"_id": {"$in": ids}}
    cursor = db[COLLECTIONS["workspaces"]].find(query).sort("created_at", 1)
    return list(await cursor.to_list(length=None))


async def update_workspace(db: Db, workspace_id: str, changes: Doc) -> Doc | None:
    """Set fields of a workspace; the updated document."""
    result: Doc | None = await db[COLLECTIONS["workspaces"]].find_one_and_update(
        {"_id": workspace_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )
    return result


async def add_membership(db: Db, workspace_id: str, user_id: str, role: str) -> None:
    """Make a user a member; raises DuplicateKeyError when already one."""
    await db[COLLECTIONS["memberships"]].insert_one(
        {"workspace_id": workspace_id, "user_id": user_id, "role": role, "created_at": _now()}
    )


async def get_membership(db: Db, workspace_id: str, user_id: str) -> Doc | None:
    """A user's membership of a workspace."""
    result: Doc | None = await db[COLLECTIONS["memberships"]].find_one(
        {"workspace_id": workspace_id, "user_id": user_id}
    )
    return result


async def list_memberships_of(db: Db, user_id: str) -> list[Doc]:
    """Every membership of a user, oldest first."""
    cursor = db[COLLECTIONS["memberships"]].find({"user_id": user_id}).sort("created_at", 1)
    return list(await cursor.to_list(length=None))


async def list_members(db: Db, workspace_id: str) -> list[Doc]:
    """A workspace's members joined with their accounts."""
    memberships = await (
        db[COLLECTIONS["memberships"]].find({"workspace_id": workspace_id}).to_list(length=None)
    )
    ids = [m["user_id"] for m in memberships]
    users = {
        u["_id"]: u
        for u in await db[COLLECTIONS["users"]].find({"_id": {"$in": ids}}).to_list(length=None)
    }
    return [
        {**m, "email": users[m["user_id"]]["email"], "name": users[m["user_id"]]["name"]}
        for m in memberships
        if m["user_id"] in users
    ]


async def set_member_role(db: Db, workspace_id: str, user_id: str, role: str) -> bool:
    """Change a member's role; False when not a member."""
    result = await db[COLLECTIONS["memberships"]].update_one(
        {"workspace_id": workspace_id, "user_id": user_id}, {"$set": {"role": role}}
    )
    return bool(result.matched_count)


async def remove_membership(db: Db, workspace_id: str, user_id: str) -> bool:
    """Remove a member; False when not a member."""
    result = await db[COLLECTIONS["memberships"]].delete_one(
        {"workspace_id": workspace_id, "user_id": user_id}
    )
    return bool(result.deleted_count)


async def count_admins(db: Db, workspace_id: str) -> int:
    """How many admins a workspace has."""
    return int(
        await db[COLLECTIONS["memberships"]].count_documents(
            {"workspace_id": workspace_id, "role": "admin"}
        )
    )


async def create_api_key(db: Db, doc: Doc) -> Doc:
    """Insert an API key record (its hash, never the key)."""
    doc = {**doc, "created_at": _now(), "revoked_at": None, "last_used_at": None}
    await db[COLLECTIONS["api_keys"]].insert_one(doc)
    return doc


async def find_api_key(db: Db, key_hash: str) -> Doc | None:
    """An API key by the hash of its secret."""
    result: Doc | None = await db[COLLECTIONS["api_keys"]].find_one({"hash": key_hash})
    return result


async def list_api_keys(db: Db, workspace_id: str) -> list[Doc]:
    """A workspace's API keys, newest first."""
    cursor = db[COLLECTIONS["api_keys"]].find({"workspace_id": workspace_id})
    return list(await cursor.sort("created_at", -1).to_list(length=None))


async def revoke_api_key(db: Db, workspace_id: str, key_id: str) -> Doc | None:
    """Mark a key revoked (idempotent); None when the workspace has no such key."""
    collection = db[COLLECTIONS["api_keys"]]
    await collection.update_one(
        {"_id": key_id, "workspace_id": workspace_id, "revoked_at": None},
        {"$set": {"revoked_at": _now()}},
    )
    result: Doc | None = await collection.find_one({"_id": key_id, "workspace_id": workspace_id})
    return result


async def touch_api_key(db: Db, key_id: str) -> None:
    """Record a key's use."""
    await db[COLLECTIONS["api_keys"]].update_one(
        {"_id": key_id}, {"$set": {"last_used_at": _now()}}
    )

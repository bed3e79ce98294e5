"""Campaigns (collection ``campaigns``), as the dialler reads them.

A document holds a `CampaignSpec`'s fields at the top level, plus ``_id``, ``workspace_id``,
``state`` and timestamps.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db

__all__ = ["DuplicateKeyError", "delete", "get", "insert", "list_campaigns", "set_state", "update"]

Doc = dict[str, Any]


async def insert(db: Db, doc: Doc) -> None:
    """Insert a campaign; raises DuplicateKeyError when its id exists."""
    await db[COLLECTIONS["campaigns"]].insert_one(doc)


async def get(db: Db, workspace_id: str, campaign_id: str) -> Doc | None:
    """A workspace's campaign."""
    result: Doc | None = await db[COLLECTIONS["campaigns"]].find_one(
        {"_id": campaign_id, "workspace_id": workspace_id}
    )
    return result


async def list_campaigns(db: Db, workspace_id: str, state: str | None) -> list[Doc]:
    """A workspace's campaigns, newest first."""
    query: Doc = {"workspace_id": workspace_id}
    if state:
        query["state"] = state
    cursor = db[COLLECTIONS["campaigns"]].find(query).sort("created_at", -1)
    return list(await cursor.to_list(length=None))


async def update(db: Db, workspace_id: str, campaign_id: str, changes: Doc) -> Doc | None:
    """Set fields; the updated campaign."""
    result: Doc | None = await db[COLLECTIONS["campaigns"]].find_one_and_update(
        {"_id": campaign_id, "workspace_id": workspace_id},
        {"$set": changes},
        return_document=ReturnDocument.AFTER,
    )
    return result


async def set_state(db: Db, campaign_id: str, expected: str, changes: Doc) -> bool:
    """Change state only if the campaign is still in ``expected``."""
    result = await db[COLLECTIONS["campaigns"]].update_one(
        {"_id": campaign_id, "state": expected}, {"$set": changes}
    )
    return bool(result.modified_count)


async def delete(db: Db, workspace_id: str, campaign_id: str) -> None:
    """Delete a campaign and its contacts."""
    await db[COLLECTIONS["contacts"]].delete_many({"campaign_id": campaign_id})
    await db[COLLECTIONS["campaigns"]].delete_one(
        {"_id": campaign_id, "workspace_id": workspace_id}
    )

"""Records of keyed contact imports (collection ``contact_imports``).

A record is written once a keyed import has been fully validated and staged, before it is
committed; its ``_id`` is ``<campaign_id>/<key>``, so the store's unique id decides between two
concurrent imports with the same key. ``committed`` turns true once the contacts are live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db

__all__ = [
    "DuplicateKeyError",
    "claim",
    "delete_for_campaign",
    "discard_stale",
    "find",
    "forget",
    "mark_committed",
]

Doc = dict[str, Any]


def _id(campaign_id: str, key: str) -> str:
    return f"{campaign_id}/{key}"


async def find(db: Db, campaign_id: str, key: str) -> Doc | None:
    """The record of the import made with ``key`` into the campaign, if any."""
    found: Doc | None = await db[COLLECTIONS["contact_imports"]].find_one(
        {"_id": _id(campaign_id, key)}
    )
    return found


async def claim(db: Db, campaign_id: str, key: str, import_id: str, imported: int) -> None:
    """Record a staged import under ``key``; raises DuplicateKeyError when the key is taken."""
    await db[COLLECTIONS["contact_imports"]].insert_one(
        {
            "_id": _id(campaign_id, key),
            "campaign_id": campaign_id,
            "import_id": import_id,
            "imported": imported,
            "committed": False,
            "created_at": datetime.now(UTC),
        }
    )


async def mark_committed(db: Db, campaign_id: str, key: str) -> None:
    """The import's contacts are live."""
    await db[COLLECTIONS["contact_imports"]].update_one(
        {"_id": _id(campaign_id, key)}, {"$set": {"committed": True}}
    )


async def forget(db: Db, campaign_id: str, key: str) -> None:
    """Drop a record whose staged contacts are gone (the import can be made again)."""
    await db[COLLECTIONS["contact_imports"]].delete_one({"_id": _id(campaign_id, key)})


async def delete_for_campaign(db: Db, campaign_id: str) -> None:
    """Drop every record of a deleted campaign."""
    await db[COLLECTIONS["contact_imports"]].delete_many({"campaign_id": campaign_id})


async def discard_stale(db: Db) -> int:
    """Drop records that never committed within an hour (their staged rows are gone too)."""
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    result = await db[COLLECTIONS["contact_imports"]].delete_many(
        {"committed": False, "created_at": {"$lt": cutoff}}
    )
    return int(result.deleted_count)

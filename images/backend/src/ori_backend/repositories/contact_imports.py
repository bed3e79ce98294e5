"""Records of contact imports being published or published (collection ``contact_imports``).

A record is written once an import is fully validated, before its contacts are published; its
``_id`` is ``<campaign_id>/<idempotency key>`` (or ``<campaign_id>/<import_id>`` without a key),
so the store's unique id decides between two concurrent imports with the same key.
``committed`` turns true once every contact is in; a record left uncommitted by a process that
died while publishing is rolled back (its contacts deleted) after an hour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pymongo.errors import DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db

__all__ = [
    "STALE_AFTER",
    "DuplicateKeyError",
    "claim",
    "delete_for_campaign",
    "find",
    "forget",
    "mark_committed",
    "stale",
]

STALE_AFTER: Final = timedelta(hours=1)
"""An uncommitted record this old belongs to a process that died while publishing."""

Doc = dict[str, Any]


def record_id(campaign_id: str, key: str) -> str:
    """The record's ``_id`` for an idempotency key (or an import id)."""
    return f"{campaign_id}/{key}"


async def find(db: Db, campaign_id: str, key: str) -> Doc | None:
    """The record of the import made with ``key`` into the campaign, if any."""
    found: Doc | None = await db[COLLECTIONS["contact_imports"]].find_one(
        {"_id": record_id(campaign_id, key)}
    )
    return found


async def claim(
    db: Db, campaign_id: str, key: str, import_id: str, imported: int, skipped: int = 0
) -> None:
    """Record a validated import; raises DuplicateKeyError when ``key`` is taken."""
    await db[COLLECTIONS["contact_imports"]].insert_one(
        {
            "_id": record_id(campaign_id, key),
            "campaign_id": campaign_id,
            "import_id": import_id,
            "imported": imported,
            "skipped": skipped,
            "committed": False,
            "created_at": datetime.now(UTC),
        }
    )


async def mark_committed(db: Db, campaign_id: str, key: str, withdrawn: int = 0) -> None:
    """Every contact of the import is in (and ``withdrawn`` pending ones are out)."""
    await db[COLLECTIONS["contact_imports"]].update_one(
        {"_id": record_id(campaign_id, key)},
        {"$set": {"committed": True, "withdrawn": withdrawn}},
    )


async def forget(db: Db, rid: str) -> None:
    """Drop a record (its import was rolled back or never published)."""
    await db[COLLECTIONS["contact_imports"]].delete_one({"_id": rid})


async def delete_for_campaign(db: Db, campaign_id: str) -> None:
    """Drop every record of a deleted campaign."""
    await db[COLLECTIONS["contact_imports"]].delete_many({"campaign_id": campaign_id})


async def stale(db: Db) -> AsyncIterator[Doc]:
    """Uncommitted records older than :data:`STALE_AFTER`."""
    cutoff = datetime.now(UTC) - STALE_AFTER
    cursor = db[COLLECTIONS["contact_imports"]].find(
        {"committed": False, "created_at": {"$lt": cutoff}}
    )
    async for doc in cursor:
        yield doc

"""Campaign contacts and the workspace's do-not-call list.

Contacts live in ``campaign_contacts`` (shape `ori_contracts.campaign.CampaignContact`, plus
``import_id`` and ``committed``); do-not-call numbers in ``dnc_numbers``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db
from ori_contracts.campaign import ContactStatus
from ori_contracts.runtime_config import Contact

__all__ = [
    "DuplicateKeyError",
    "add_dnc",
    "counts_by_status",
    "dnc_phones",
    "delete_import",
    "existing",
    "insert_batch",
    "latest_by_phone",
    "list_contacts",
    "list_dnc",
    "discard_stale_imports",
    "remove_dnc",
    "to_contract",
]

Doc = dict[str, Any]


async def latest_by_phone(db: Db, workspace_id: str, phone: str) -> Doc | None:
    """The most recently imported live contact with this number in the workspace."""
    cursor = (
        db[COLLECTIONS["contacts"]]
        .find({"workspace_id": workspace_id, "phone": phone, "committed": True})
        .sort("imported_at", -1)
        .limit(1)
    )
    found = await cursor.to_list(length=1)
    return found[0] if found else None


def to_contract(doc: Doc) -> Contact:
    """The runtime-config view of a stored contact."""
    return Contact(
        id=doc["id"],
        phone=doc["phone"],
        name=doc.get("name"),
        timezone=doc.get("timezone"),
        custom_fields=doc.get("custom_fields") or {},
        crm=doc.get("crm") or {},
    )


async def existing(db: Db, campaign_id: str) -> tuple[set[str], set[str]]:
    """The numbers and the contact ids already in a campaign (one scan)."""
    cursor = db[COLLECTIONS["contacts"]].find(
        {"campaign_id": campaign_id, "committed": True}, {"phone": 1, "id": 1, "_id": 0}
    )
    phones: set[str] = set()
    ids: set[str] = set()
    async for doc in cursor:
        phones.add(doc["phone"])
        ids.add(doc["id"])
    return phones, ids


async def withdraw_pending(db: Db, campaign_id: str, phones: set[str], keep_ids: set[str]) -> int:
    """Remove the campaign's ``pending`` contacts with these numbers, except ``keep_ids``.

    Returns:
        How many were removed.
    """
    if not phones:
        return 0
    contacts = db[COLLECTIONS["contacts"]]
    query = {
        "campaign_id": campaign_id,
        "phone": {"$in": sorted(phones)},
        "status": ContactStatus.PENDING.value,
    }
    found = contacts.find(query, {"id": 1})
    gone = [doc["_id"] async for doc in found if doc["id"] not in keep_ids]
    if not gone:
        return 0
    answer = await contacts.delete_many({"_id": {"$in": gone}, **query})
    return int(answer.deleted_count)


async def insert_batch(db: Db, docs: list[Doc]) -> None:
    """Insert staged (uncommitted) contacts."""
    if not docs:
        return
    try:
        await db[COLLECTIONS["contacts"]].insert_many(docs, ordered=False)
    except BulkWriteError as error:
        raise DuplicateKeyError(f"duplicate contact id: {error.details}") from None


async def delete_import(db: Db, import_id: str) -> int:
    """Delete every contact of an import (rolling back one that stopped while publishing)."""
    result = await db[COLLECTIONS["contacts"]].delete_many({"import_id": import_id})
    return int(result.deleted_count)


async def discard_stale_imports(db: Db) -> int:
    """Delete contacts of imports that never committed within an hour (a process died)."""
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    result = await db[COLLECTIONS["contacts"]].delete_many(
        {"committed": False, "imported_at": {"$lt": cutoff}}
    )
    return int(result.deleted_count)


async def list_contacts(db: Db, campaign_id: str, *, limit: int, after: str | None) -> list[Doc]:
    """A page of a campaign's live contacts, by storage id."""
    query: Doc = {"campaign_id": campaign_id, "committed": True}
    if after:
        query["_id"] = {"$gt": after}
    cursor = db[COLLECTIONS["contacts"]].find(query).sort("_id", 1).limit(limit)
    return list(await cursor.to_list(length=None))


async def counts_by_status(db: Db, campaign_id: str) -> dict[str, int]:
    """Live contacts per status."""
    pipeline: list[Doc] = [
        {"$match": {"campaign_id": campaign_id, "committed": True}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}}},
    ]
    rows = await db[COLLECTIONS["contacts"]].aggregate(pipeline).to_list(length=None)
    return {str(row["_id"]): int(row["n"]) for row in rows}


async def dnc_phones(db: Db, workspace_id: str) -> set[str]:
    """The workspace's do-not-call numbers."""
    cursor = db[COLLECTIONS["dnc"]].find({"workspace_id": workspace_id}, {"phone": 1, "_id": 0})
    return {doc["phone"] async for doc in cursor}


async def add_dnc(db: Db, workspace_id: str, phones: list[str], when: object) -> None:
    """Add numbers to the do-not-call list (idempotent)."""
    collection = db[COLLECTIONS["dnc"]]
    for phone in phones:
        await collection.update_one(
            {"workspace_id": workspace_id, "phone": phone},
            {"$setOnInsert": {"added_at": when}},
            upsert=True,
        )


async def list_dnc(db: Db, workspace_id: str) -> list[Doc]:
    """The do-not-call list, by number."""
    cursor = db[COLLECTIONS["dnc"]].find({"workspace_id": workspace_id}).sort("phone", 1)
    return list(await cursor.to_list(length=None))


async def remove_dnc(db: Db, workspace_id: str, phone: str) -> bool:
    """Remove a number from the do-not-call list."""
    result = await db[COLLECTIONS["dnc"]].delete_one({"workspace_id": workspace_id, "phone": phone})
    return bool(result.deleted_count)

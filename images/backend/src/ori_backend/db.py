"""The MongoDB database handle type, collection names and the indexes the backend relies on.

Only operations the MongoDB-wire server of the local stack (FerretDB v1 over SQLite) supports
are used: plain and unique indexes (no partial or text indexes), upserts, ``find_one_and_update``,
``$regex`` and simple aggregation stages. Text search over transcripts is a case-insensitive
``$regex`` on a lower-cased copy of the transcript.
"""

from __future__ import annotations

from typing import Any, Final

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING

from ori_contracts.campaign import CAMPAIGN_CONTACTS_COLLECTION, CAMPAIGNS_COLLECTION

__all__ = ["BAD_VALUE", "COLLECTIONS", "Db", "ensure_indexes"]

Db = AsyncIOMotorDatabase[dict[str, Any]]

BAD_VALUE: Final = 2
"""The store's error code for a value it cannot hold (FerretDB: a JSON array inside an array)."""

COLLECTIONS: Final = {
    "users": "users",
    "workspaces": "workspaces",
    "memberships": "memberships",
    "api_keys": "api_keys",
    "bots": "bots",
    "bot_versions": "bot_versions",
    "calls": "calls",
    "call_results": "call_results",
    "campaigns": CAMPAIGNS_COLLECTION,
    "contacts": CAMPAIGN_CONTACTS_COLLECTION,
    "contact_imports": "contact_imports",
    "dnc": "dnc_numbers",
    "knowledge_bases": "knowledge_bases",
    "documents": "kb_documents",
    "webhooks": "webhooks",
    "deliveries": "webhook_deliveries",
}

_INDEXES: Final[dict[str, list[tuple[list[tuple[str, int]], bool]]]] = {
    "users": [([("email", ASCENDING)], True)],
    "memberships": [
        ([("workspace_id", ASCENDING), ("user_id", ASCENDING)], True),
        ([("user_id", ASCENDING)], False),
    ],
    "api_keys": [([("hash", ASCENDING)], True), ([("workspace_id", ASCENDING)], False)],
    "bots": [([("workspace_id", ASCENDING), ("external_ref", ASCENDING)], False)],
    "bot_versions": [([("bot_id", ASCENDING), ("version", ASCENDING)], True)],
    "calls": [
        ([("workspace_id", ASCENDING), ("sort_key", DESCENDING)], False),
        ([("campaign_id", ASCENDING)], False),
    ],
    "campaigns": [([("workspace_id", ASCENDING)], False)],
    "contacts": [
        ([("campaign_id", ASCENDING), ("phone", ASCENDING)], False),
        ([("campaign_id", ASCENDING), ("status", ASCENDING)], False),
    ],
    "dnc": [([("workspace_id", ASCENDING), ("phone", ASCENDING)], True)],
    "knowledge_bases": [([("workspace_id", ASCENDING)], False)],
    "documents": [([("knowledge_base_id", ASCENDING)], False)],
    "webhooks": [([("workspace_id", ASCENDING)], False)],
    "deliveries": [
        ([("status", ASCENDING), ("next_attempt_at", ASCENDING)], False),
        ([("workspace_id", ASCENDING), ("created_at", DESCENDING)], False),
    ],
}


async def ensure_indexes(db: Db) -> None:
    """Create every index the backend needs (idempotent)."""
    for name, indexes in _INDEXES.items():
        collection = db[COLLECTIONS[name]]
        for keys, unique in indexes:
            await collection.create_index(keys, unique=unique)

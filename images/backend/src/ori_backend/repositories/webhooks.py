"""CRM webhooks and their deliveries (collections ``webhooks``, ``webhook_deliveries``).

A delivery is a durable outbox row: ``pending`` until sent, ``sending`` while one backend
process holds its lease, then ``delivered`` or, after the last attempt, ``failed``. A lease
that expires (the process died mid-send) makes the row due again, so deliveries survive a
restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ori_backend.db import COLLECTIONS, Db

__all__ = [
    "claim_due",
    "delete_webhook",
    "finish",
    "get_delivery",
    "get_webhook",
    "insert_delivery",
    "insert_webhook",
    "list_deliveries",
    "list_webhooks",
    "matching_webhooks",
    "requeue",
    "update_webhook",
]

Doc = dict[str, Any]


async def insert_webhook(db: Db, doc: Doc) -> None:
    """Insert a webhook."""
    await db[COLLECTIONS["webhooks"]].insert_one(doc)


async def get_webhook(db: Db, workspace_id: str, webhook_id: str) -> Doc | None:
    """A workspace's webhook."""
    result: Doc | None = await db[COLLECTIONS["webhooks"]].find_one(
        {"_id": webhook_id, "workspace_id": workspace_id}
    )
    return result


async def list_webhooks(db: Db, workspace_id: str) -> list[Doc]:
    """A workspace's webhooks, oldest first."""
    cursor = db[COLLECTIONS["webhooks"]].find({"workspace_id": workspace_id})
    return list(await cursor.sort("created_at", 1).to_list(length=None))


async def update_webhook(db: Db, workspace_id: str, webhook_id: str, changes: Doc) -> Doc | None:
    """Set fields of a webhook; the updated document."""
    result: Doc | None = await db[COLLECTIONS["webhooks"]].find_one_and_update(
        {"_id": webhook_id, "workspace_id": workspace_id},
        {"$set": changes},
        return_document=ReturnDocument.AFTER,
    )
    return result


async def delete_webhook(db: Db, workspace_id: str, webhook_id: str) -> bool:
    """Delete a webhook (its delivery history stays)."""
    result = await db[COLLECTIONS["webhooks"]].delete_one(
        {"_id": webhook_id, "workspace_id": workspace_id}
    )
    return bool(result.deleted_count)


async def matching_webhooks(db: Db, workspace_id: str) -> list[Doc]:
    """A workspace's enabled webhooks (scope is checked by the caller)."""
    cursor = db[COLLECTIONS["webhooks"]].find({"workspace_id": workspace_id, "enabled": True})
    return list(await cursor.to_list(length=None))


async def insert_delivery(db: Db, doc: Doc) -> bool:
    """Queue a delivery; False when it was already queued (same id)."""
    try:
        await db[COLLECTIONS["deliveries"]].insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


async def claim_due(db: Db, now: datetime, lease_s: float) -> Doc | None:
    """Take the lease on one due delivery, or None when nothing is due."""
    due = {
        "$or": [
            {"status": "pending", "next_attempt_at": {"$lte": now}},
            {"status": "sending", "lease_until": {"$lte": now}},
        ]
    }
    lease = {"$set": {"status": "sending", "lease_until": now + timedelta(seconds=lease_s)}}
    result: Doc | None = await db[COLLECTIONS["deliveries"]].find_one_and_update(
        due, lease, sort=[("next_attempt_at", 1)], return_document=ReturnDocument.AFTER
    )
    return result


async def finish(db: Db, delivery_id: str, changes: Doc) -> None:
    """Record the outcome of an attempt (releases the lease)."""
    await db[COLLECTIONS["deliveries"]].update_one(
        {"_id": delivery_id}, {"$set": {**changes, "lease_until": None}}
    )


async def get_delivery(db: Db, workspace_id: str, delivery_id: str) -> Doc | None:
    """A workspace's delivery."""
    result: Doc | None = await db[COLLECTIONS["deliveries"]].find_one(
        {"_id": delivery_id, "workspace_id": workspace_id}
    )
    return result


async def list_deliveries(db: Db, workspace_id: str, status: str | None, limit: int) -> list[Doc]:
    """A workspace's deliveries, newest first, optionally of one status."""
    query: Doc = {"workspace_id": workspace_id}
    if status:
        query["status"] = status
    cursor = db[COLLECTIONS["deliveries"]].find(query, {"payload": 0})
    return list(await cursor.sort("created_at", -1).limit(limit).to_list(length=None))


async def requeue(db: Db, workspace_id: str, delivery_id: str, now: datetime) -> Doc | None:
    """Make a delivery due now with a fresh set of attempts (manual retry)."""
    result: Doc | None = await db[COLLECTIONS["deliveries"]].find_one_and_update(
        {"_id": delivery_id, "workspace_id": workspace_id, "status": {"$ne": "sending"}},
        {"$set": {"status": "pending", "next_attempt_at": now, "attempts": 0, "lease_until": None}},
        return_document=ReturnDocument.AFTER,
    )
    return result

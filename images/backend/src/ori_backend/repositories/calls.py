"""Call records (collection ``calls``): one document per call id.

A record is created when the call is prepared or first asks for its config, and completed
once by its `CallResult`.

``_id`` is the call id, so the store itself guarantees one record per call. ``result`` is the
`CallResult` as a document, or as its JSON text where the store cannot hold it as one
(FerretDB keeps no array inside an array, which a tool's answer may have): read it with
:func:`result_of`. ``sort_key``
(``<created ms, 13 digits>:<call id>``) orders records newest first and is the cursor of the
list; ``transcript_text`` is the lower-cased transcript that text search matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError, WriteError

from ori_backend.db import BAD_VALUE, COLLECTIONS, Db

__all__ = [
    "CallFilters",
    "get",
    "insert_if_absent",
    "list_calls",
    "mark_started",
    "mark_not_placed",
    "claim_result",
    "apply_result",
    "result_of",
    "sort_key",
]

Doc = dict[str, Any]


def sort_key(created_at: datetime, call_id: str) -> str:
    """The list order key: creation time in ms, then the id."""
    return f"{int(created_at.timestamp() * 1000):013d}:{call_id}"


async def get(db: Db, call_id: str, workspace_id: str | None = None) -> Doc | None:
    """A call by id (only in ``workspace_id`` when given)."""
    query: Doc = {"_id": call_id}
    if workspace_id is not None:
        query["workspace_id"] = workspace_id
    result: Doc | None = await db[COLLECTIONS["calls"]].find_one(query)
    return result


async def insert_if_absent(db: Db, doc: Doc) -> Doc:
    """Insert a call; when one with the same id exists (a race), return that one instead."""
    try:
        await db[COLLECTIONS["calls"]].insert_one(doc)
    except DuplicateKeyError:
        existing = await get(db, doc["_id"])
        if existing is None:
            raise
        return existing
    return doc


async def mark_started(db: Db, call_id: str, changes: Doc) -> None:
    """Record that a worker took the call (only while no result has arrived)."""
    await db[COLLECTIONS["calls"]].update_one(
        {"_id": call_id, "result_received_at": None}, {"$set": changes}
    )


async def mark_not_placed(db: Db, call_id: str) -> None:
    """Record that no worker took the call (only while no worker has started it)."""
    await db[COLLECTIONS["calls"]].update_one(
        {"_id": call_id, "status": "created"}, {"$set": {"status": "not_placed"}}
    )


async def claim_result(db: Db, call_id: str, claim: Doc) -> Doc | None:
    """Claim the right to store a call's result: None when claimed now, else the earlier claim.

    ``call_results`` holds one document per call id (its ``_id``), inserted once: the store's
    unique ``_id`` decides between concurrent deliveries, which an update filter cannot on every
    MongoDB-wire server. The claim keeps the fields, so a record can be repaired from it.
    """
    collection = db[COLLECTIONS["call_results"]]

    async def insert(fields: Doc) -> None:
        await collection.insert_one({"_id": call_id, **claim, "fields": fields})

    try:
        await _write_result(insert, claim["fields"])
    except DuplicateKeyError:
        earlier: Doc | None = await collection.find_one({"_id": call_id})
        return earlier or {}
    return None


async def apply_result(db: Db, call_id: str, fields: Doc, on_insert: Doc) -> None:
    """Write a claimed result onto the call's record, creating the record if needed."""
    collection = db[COLLECTIONS["calls"]]

    async def upsert(values: Doc) -> None:
        update = {"$set": values, "$setOnInsert": on_insert}
        try:
            await collection.update_one({"_id": call_id}, update, upsert=True)
        except DuplicateKeyError:  # the record was created concurrently: now it exists
            await collection.update_one({"_id": call_id}, update)

    await _write_result(upsert, fields)


async def _write_result(write: Callable[[Doc], Awaitable[None]], fields: Doc) -> None:
    """``write(fields)``; where the store cannot hold the result as a document, as JSON text."""
    try:
        await write(fields)
    except WriteError as error:  # a duplicate key too: raised on as it is
        if error.code != BAD_VALUE or isinstance(fields.get("result"), str):
            raise
        await write({**fields, "result": json.dumps(fields.get("result"))})


def result_of(record: Doc) -> Doc | None:
    """A record's `CallResult` as a JSON document, however it was stored."""
    result = record.get("result")
    if isinstance(result, str):
        parsed: Doc = json.loads(result)
        return parsed
    return result if isinstance(result, dict) else None


class CallFilters:
    """The list filters; each None is ignored."""

    def __init__(self, **values: Any) -> None:
        self.values = {k: v for k, v in values.items() if v is not None}

    def query(self, workspace_id: str, cursor: str | None) -> Doc:
        """The MongoDB filter."""
        query: Doc = {"workspace_id": workspace_id}
        for field in ("bot_id", "campaign_id", "disposition", "outcome", "status", "direction"):
            if field in self.values:
                query[field] = self.values[field]
        created: Doc = {}
        if "since" in self.values:
            created["$gte"] = self.values["since"]
        if "until" in self.values:
            created["$lt"] = self.values["until"]
        if created:
            query["created_at"] = created
        if "text" in self.values:
            pattern = re.escape(self.values["text"].strip().lower())
            query["transcript_text"] = {"$regex": pattern}
        if cursor:
            query["sort_key"] = {"$lt": cursor}
        return query


async def list_calls(
    db: Db, workspace_id: str, filters: CallFilters, *, limit: int, cursor: str | None
) -> list[Doc]:
    """A page of calls, newest first."""
    collection = db[COLLECTIONS["calls"]]
    found = collection.find(filters.query(workspace_id, cursor), {"result.transcript": 0})
    return list(await found.sort("sort_key", -1).limit(limit).to_list(length=None))

"""Knowledge bases and their documents (collections ``knowledge_bases``, ``kb_documents``)."""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from ori_backend.db import COLLECTIONS, Db

__all__ = [
    "delete_document",
    "delete_kb",
    "get_document",
    "get_kb",
    "get_kbs",
    "insert_document",
    "insert_kb",
    "list_documents",
    "list_kbs",
    "update_document",
]

Doc = dict[str, Any]


async def insert_kb(db: Db, doc: Doc) -> None:
    """Insert a knowledge base."""
    await db[COLLECTIONS["knowledge_bases"]].insert_one(doc)


async def get_kb(db: Db, workspace_id: str, kb_id: str) -> Doc | None:
    """A workspace's knowledge base."""
    result: Doc | None = await db[COLLECTIONS["knowledge_bases"]].find_one(
        {"_id": kb_id, "workspace_id": workspace_id}
    )
    return result


async def get_kbs(db: Db, workspace_id: str, kb_ids: list[str]) -> list[Doc]:
    """Those of ``kb_ids`` that belong to the workspace."""
    cursor = db[COLLECTIONS["knowledge_bases"]].find(
        {"_id": {"$in": kb_ids}, "workspace_id": workspace_id}
    )
    return list(await cursor.to_list(length=None))


async def list_kbs(db: Db, workspace_id: str) -> list[Doc]:
    """A workspace's knowledge bases, oldest first."""
    cursor = db[COLLECTIONS["knowledge_bases"]].find({"workspace_id": workspace_id})
    return list(await cursor.sort("created_at", 1).to_list(length=None))


async def delete_kb(db: Db, workspace_id: str, kb_id: str) -> None:
    """Delete a knowledge base and its document records."""
    await db[COLLECTIONS["documents"]].delete_many({"knowledge_base_id": kb_id})
    await db[COLLECTIONS["knowledge_bases"]].delete_one(
        {"_id": kb_id, "workspace_id": workspace_id}
    )


async def insert_document(db: Db, doc: Doc) -> None:
    """Insert a document record."""
    await db[COLLECTIONS["documents"]].insert_one(doc)


async def get_document(db: Db, kb_id: str, document_id: str) -> Doc | None:
    """A document of a knowledge base."""
    result: Doc | None = await db[COLLECTIONS["documents"]].find_one(
        {"_id": document_id, "knowledge_base_id": kb_id}
    )
    return result


async def list_documents(db: Db, kb_id: str) -> list[Doc]:
    """A knowledge base's documents, oldest first."""
    cursor = db[COLLECTIONS["documents"]].find({"knowledge_base_id": kb_id})
    return list(await cursor.sort("created_at", 1).to_list(length=None))


async def update_document(db: Db, document_id: str, changes: Doc) -> Doc | None:
    """Set fields of a document record."""
    result: Doc | None = await db[COLLECTIONS["documents"]].find_one_and_update(
        {"_id": document_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )
    return result


async def delete_document(db: Db, kb_id: str, document_id: str) -> bool:
    """Delete a document record."""
    result = await db[COLLECTIONS["documents"]].delete_one(
        {"_id": document_id, "knowledge_base_id": kb_id}
    )
    return bool(result.deleted_count)

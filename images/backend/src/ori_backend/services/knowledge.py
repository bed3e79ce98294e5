"""Knowledge bases: documents in, chunks embedded into Qdrant, passages out.

Every workspace has its own Qdrant collection per embedder (``ori_kb_<workspace>_<embedder>``)
and every point also carries ``workspace_id`` and ``knowledge_base_id`` in its payload, which
every search filters on: one workspace never sees another's passages. A document is processed
during its upload; if anything fails its vectors are removed and nothing stays behind.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import NotFound
from ori_backend.repositories import knowledge as repo
from ori_backend.services.documents import chunk_text, extract_text, kind_of
from ori_backend.services.embeddings import Embedder
from ori_contracts.knowledge import KnowledgeHit, KnowledgeSearchRequest

__all__ = [
    "add_document",
    "collection_for",
    "create_kb",
    "delete_document",
    "delete_kb",
    "get_kb",
    "search",
]

Doc = dict[str, Any]


def collection_for(workspace_id: str, embedder: Embedder) -> str:
    """The Qdrant collection of a workspace's chunks for one embedder."""
    return f"ori_kb_{workspace_id}_{embedder.name}"


async def _ensure_collection(
    qdrant: AsyncQdrantClient, name: str, embedder: Embedder, size: int
) -> None:
    if await qdrant.collection_exists(name):
        return
    if embedder.vector_name == "lexical":
        await qdrant.create_collection(
            name,
            vectors_config={},
            sparse_vectors_config={
                "lexical": models.SparseVectorParams(modifier=models.Modifier.IDF)
            },
        )
    else:
        await qdrant.create_collection(
            name,
            vectors_config={
                "dense": models.VectorParams(size=size, distance=models.Distance.COSINE)
            },
        )


def _match(key: str, value: str | list[str]) -> models.FieldCondition:
    match = (
        models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value)
    )
    return models.FieldCondition(key=key, match=match)


async def get_kb(db: Db, workspace_id: str, kb_id: str) -> Doc:
    """A workspace's knowledge base.

    Raises:
        NotFound: No such knowledge base in this workspace.
    """
    kb = await repo.get_kb(db, workspace_id, kb_id)
    if kb is None:
        raise NotFound(f"knowledge base {kb_id} not found")
    return kb


async def create_kb(
    db: Db, workspace_id: str, name: str, description: str, embedder: Embedder
) -> Doc:
    """Create an empty knowledge base."""
    doc = {
        "_id": security.new_id("kb"),
        "workspace_id": workspace_id,
        "name": name,
        "description": description,
        "embedder": embedder.name,
        "collection": collection_for(workspace_id, embedder),
        "created_at": datetime.now(UTC),
    }
    await repo.insert_kb(db, doc)
    return doc


async def add_document(
    db: Db,
    qdrant: AsyncQdrantClient,
    embedder: Embedder,
    kb: Doc,
    *,
    filename: str,
    content_type: str | None,
    data: bytes,
) -> Doc:
    """Extract, chunk, embed and store one document; its record says ``ready`` when done.

    Raises:
        BadRequest, Unprocessable: The file cannot be read; nothing is stored.
    """
    kind = kind_of(filename, content_type)
    text = await asyncio.to_thread(extract_text, kind, data)
    chunks = chunk_text(text)
    now = datetime.now(UTC)
    document = {
        "_id": security.new_id("doc"),
        "knowledge_base_id": kb["_id"],
        "workspace_id": kb["workspace_id"],
        "name": filename,
        "kind": kind,
        "size_bytes": len(data),
        "chunks": len(chunks),
        "status": "processing",
        "error": None,
        "created_at": now,
    }
    await repo.insert_document(db, document)
    try:
        await _store_chunks(qdrant, embedder, kb, document, chunks)
    except BaseException:
        await _delete_points(qdrant, kb, "document_id", document["_id"])
        await repo.delete_document(db, kb["_id"], document["_id"])
        raise
    return await repo.update_document(db, document["_id"], {"status": "ready"}) or document


async def _store_chunks(
    qdrant: AsyncQdrantClient, embedder: Embedder, kb: Doc, document: Doc, chunks: list[str]
) -> None:
    vectors = await embedder.documents(chunks)
    size = len(vectors[0]) if vectors and isinstance(vectors[0], list) else 0
    await _ensure_collection(qdrant, kb["collection"], embedder, size)
    points = [
        models.PointStruct(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document['_id']}/{index}")),
            vector={embedder.vector_name: vector},
            payload={
                "workspace_id": kb["workspace_id"],
                "knowledge_base_id": kb["_id"],
                "document_id": document["_id"],
                "document_name": document["name"],
                "chunk_index": index,
                "text": chunk,
            },
        )
        for index, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
    ]
    for start in range(0, len(points), 256):
        await qdrant.upsert(kb["collection"], points=points[start : start + 256], wait=True)


async def _delete_points(qdrant: AsyncQdrantClient, kb: Doc, key: str, value: str) -> None:
    if await qdrant.collection_exists(kb["collection"]):
        selector = models.FilterSelector(filter=models.Filter(must=[_match(key, value)]))
        await qdrant.delete(kb["collection"], points_selector=selector, wait=True)


async def delete_document(db: Db, qdrant: AsyncQdrantClient, kb: Doc, document_id: str) -> None:
    """Delete a document and its vectors.

    Raises:
        NotFound: No such document in the knowledge base.
    """
    if await repo.get_document(db, kb["_id"], document_id) is None:
        raise NotFound(f"document {document_id} not found")
    await _delete_points(qdrant, kb, "document_id", document_id)
    await repo.delete_document(db, kb["_id"], document_id)


async def delete_kb(db: Db, qdrant: AsyncQdrantClient, kb: Doc) -> None:
    """Delete a knowledge base, its documents and all their vectors."""
    await _delete_points(qdrant, kb, "knowledge_base_id", kb["_id"])
    await repo.delete_kb(db, kb["workspace_id"], kb["_id"])


async def search(
    db: Db,
    qdrant: AsyncQdrantClient,
    embedder: Embedder,
    workspace_id: str,
    request: KnowledgeSearchRequest,
) -> list[KnowledgeHit]:
    """The best passages of the named knowledge bases of one workspace.

    Raises:
        NotFound: A named knowledge base is not in the workspace.
    """
    kbs = await repo.get_kbs(db, workspace_id, request.knowledge_base_ids)
    missing = set(request.knowledge_base_ids) - {kb["_id"] for kb in kbs}
    if missing:
        raise NotFound(f"knowledge bases not found: {', '.join(sorted(missing))}")
    collection = collection_for(workspace_id, embedder)
    if not await qdrant.collection_exists(collection):
        return []
    answer = await qdrant.query_points(
        collection,
        query=await embedder.query(request.query),
        using=embedder.vector_name,
        query_filter=models.Filter(
            must=[
                _match("workspace_id", workspace_id),
                _match("knowledge_base_id", request.knowledge_base_ids),
            ]
        ),
        limit=request.top_k,
        with_payload=True,
    )
    return [
        KnowledgeHit(
            knowledge_base_id=p.payload["knowledge_base_id"],
            document_id=p.payload["document_id"],
            document_name=p.payload["document_name"],
            chunk_index=p.payload["chunk_index"],
            text=p.payload["text"],
            score=p.score,
        )
        for p in answer.points
        if p.payload
    ]

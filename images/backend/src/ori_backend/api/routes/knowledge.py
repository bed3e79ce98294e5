"""Knowledge bases: documents in (txt, md, pdf, docx), passages out (also for the worker)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from ori_backend.api.deps import (
    DbDep,
    DeveloperDep,
    MemberDep,
    QdrantDep,
    SettingsDep,
    bearer_scheme,
    fleet_caller,
    is_fleet_token,
    require,
)
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound, Unprocessable
from ori_backend.repositories import calls as calls_repo
from ori_backend.repositories import knowledge as repo
from ori_backend.schemas.auth import public
from ori_backend.schemas.common import Role
from ori_backend.schemas.knowledge import DocumentPublic, KnowledgeBaseCreate, KnowledgeBasePublic
from ori_backend.services import knowledge
from ori_backend.services.embeddings import Embedder
from ori_backend.services.uploads import MULTIPART_FILE, Upload, upload_chunks
from ori_contracts.knowledge import KnowledgeSearchRequest, KnowledgeSearchResponse

router = APIRouter(prefix="/knowledge-bases", tags=["knowledge-bases"])


async def _embedder(request: Request) -> Embedder:
    embedder: Embedder = request.app.state.embedder
    return embedder


EmbedderDep = Annotated[Embedder, Depends(_embedder)]


@router.post(
    "/search",
    summary="Search knowledge bases (worker's search_knowledge tool)",
    responses=errors(403, 404),
)
async def search(
    body: KnowledgeSearchRequest,
    request: Request,
    db: DbDep,
    qdrant: QdrantDep,
    embedder: EmbedderDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> KnowledgeSearchResponse:
    """Best passages, best first.

    Accepts the fleet secret (with `workspace_id`), a call token (the call's workspace) or an
    operator's credentials (their workspace).
    """
    workspace_id = await _search_workspace(request, body, db, settings, credentials)
    hits = await knowledge.search(db, qdrant, embedder, workspace_id, body)
    return KnowledgeSearchResponse(hits=hits)


async def _search_workspace(
    request: Request,
    body: KnowledgeSearchRequest,
    db: DbDep,
    settings: SettingsDep,
    credentials: HTTPAuthorizationCredentials | None,
) -> str:
    token = credentials.credentials if credentials else ""
    if not is_fleet_token(settings, token):
        principal = await require(Role.MEMBER)(
            db, settings, credentials, request.headers.get("X-Workspace-Id")
        )
        return principal.workspace_id
    caller = await fleet_caller(settings, credentials)
    if caller.call_id is None:
        if body.workspace_id is None:
            raise Unprocessable("workspace_id is required with the fleet secret")
        return body.workspace_id
    call = await calls_repo.get(db, caller.call_id)
    if call is None or not call.get("workspace_id"):
        raise NotFound(f"call {caller.call_id} not found")
    return str(call["workspace_id"])


def _kb(doc: dict[str, Any]) -> KnowledgeBasePublic:
    return KnowledgeBasePublic.model_validate(public(doc))


@router.get("", summary="List knowledge bases", responses=errors(403))
async def list_kbs(db: DbDep, principal: MemberDep) -> list[KnowledgeBasePublic]:
    """The workspace's knowledge bases."""
    return [_kb(doc) for doc in await repo.list_kbs(db, principal.workspace_id)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a knowledge base",
    responses=errors(403),
)
async def create_kb(
    body: KnowledgeBaseCreate, db: DbDep, principal: DeveloperDep, embedder: EmbedderDep
) -> KnowledgeBasePublic:
    """Create an empty knowledge base (developer)."""
    doc = await knowledge.create_kb(
        db, principal.workspace_id, body.name, body.description, embedder
    )
    return _kb(doc)


@router.get("/{kb_id}", summary="Read a knowledge base", responses=errors(403, 404))
async def read_kb(kb_id: str, db: DbDep, principal: MemberDep) -> KnowledgeBasePublic:
    """One knowledge base."""
    return _kb(await knowledge.get_kb(db, principal.workspace_id, kb_id))


@router.delete(
    "/{kb_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a knowledge base",
    responses=errors(403, 404),
)
async def delete_kb(kb_id: str, db: DbDep, qdrant: QdrantDep, principal: DeveloperDep) -> None:
    """Delete it with its documents and vectors (developer)."""
    await knowledge.delete_kb(db, qdrant, await knowledge.get_kb(db, principal.workspace_id, kb_id))


@router.get("/{kb_id}/documents", summary="List documents", responses=errors(403, 404))
async def list_documents(kb_id: str, db: DbDep, principal: MemberDep) -> list[DocumentPublic]:
    """The knowledge base's documents and their status."""
    await knowledge.get_kb(db, principal.workspace_id, kb_id)
    return [DocumentPublic.model_validate(public(d)) for d in await repo.list_documents(db, kb_id)]


@router.post(
    "/{kb_id}/documents",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a document",
    responses=errors(400, 403, 404, 413, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                **MULTIPART_FILE,
            },
            "description": "The file's bytes as the raw body, or the `file` part of a "
            "`multipart/form-data` body; its kind comes from the file name or content type.",
        }
    },
)
async def upload_document(
    kb_id: str,
    request: Request,
    db: DbDep,
    qdrant: QdrantDep,
    embedder: EmbedderDep,
    settings: SettingsDep,
    principal: DeveloperDep,
    filename: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="e.g. `faq.pdf`; required with a raw body, else the multipart part's.",
        ),
    ] = None,
) -> DocumentPublic:
    """Upload txt, md, pdf or docx (developer); it is chunked and embedded before the answer."""
    kb = await knowledge.get_kb(db, principal.workspace_id, kb_id)
    upload = Upload()
    limit = settings.max_upload_mb * 1024 * 1024
    data = b"".join([chunk async for chunk in upload_chunks(request, limit, upload)])
    name = filename or upload.filename
    if not name or len(name) > 255:
        raise Unprocessable("name the file: ?filename=, or a filename on the multipart part")
    document = await knowledge.add_document(
        db, qdrant, embedder, kb, filename=name, content_type=upload.content_type, data=data
    )
    return DocumentPublic.model_validate(public(document))


@router.get(
    "/{kb_id}/documents/{document_id}", summary="Read a document", responses=errors(403, 404)
)
async def read_document(
    kb_id: str, document_id: str, db: DbDep, principal: MemberDep
) -> DocumentPublic:
    """One document and its status."""
    await knowledge.get_kb(db, principal.workspace_id, kb_id)
    document = await repo.get_document(db, kb_id, document_id)
    if document is None:
        raise NotFound(f"document {document_id} not found")
    return DocumentPublic.model_validate(public(document))


@router.delete(
    "/{kb_id}/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a document",
    responses=errors(403, 404),
)
async def delete_document(
    kb_id: str, document_id: str, db: DbDep, qdrant: QdrantDep, principal: DeveloperDep
) -> None:
    """Delete a document and its vectors (developer)."""
    kb = await knowledge.get_kb(db, principal.workspace_id, kb_id)
    await knowledge.delete_document(db, qdrant, kb, document_id)

"""Campaigns: CRUD, states, CSV contact import, progress, and the operator's upsert by reference."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from ori_backend.api.deps import DbDep, DeveloperDep, MemberDep, SettingsDep
from ori_backend.api.responses import errors
from ori_backend.repositories import campaigns as repo
from ori_backend.repositories import contacts as contacts_repo
from ori_backend.schemas.campaigns import (
    CampaignProgress,
    CampaignPublic,
    CampaignStateChange,
    ContactImported,
    ContactPublic,
)
from ori_backend.schemas.common import Page
from ori_backend.services import campaigns, contact_import
from ori_backend.services.uploads import MULTIPART_FILE, Upload, upload_chunks
from ori_contracts.bot_spec import EXTERNAL_REF_PATTERN, BotManager
from ori_contracts.campaign import (
    EXISTING_CONTACTS_PARAM,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_PATTERN,
    CampaignSpec,
    CampaignState,
    CampaignSyncResult,
    ExistingContacts,
)

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

CampaignRef = Annotated[
    str,
    Path(
        pattern=EXTERNAL_REF_PATTERN,
        description="`<namespace>.<name>` of the Kubernetes `Campaign`.",
        examples=["default.spring-recall"],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Makes the import repeatable: the same key answers the first import's "
        "result (200, `replayed: true`) and imports nothing.",
    ),
]
CreateKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Makes the create repeatable: the campaign's id derives from the key, and "
        "the same key again answers that campaign (200) and creates nothing.",
    ),
]
Existing = Annotated[
    ExistingContacts,
    Query(
        alias=EXISTING_CONTACTS_PARAM,
        description="A row whose number or id is already in the campaign: `error` refuses the "
        "file, `skip` leaves that contact as it is and counts the row in `skipped`; `sync` "
        "does the same and withdraws the pending contacts not in the file (`withdrawn`).",
    ),
]


async def _public(db: DbDep, doc: dict[str, Any], *, with_progress: bool = True) -> CampaignPublic:
    progress = CampaignProgress(**await campaigns.progress(db, doc)) if with_progress else None
    managed_by = doc.get("managed_by") or BotManager.API
    return CampaignPublic.model_validate(
        {
            **doc,
            "id": doc["_id"],
            "progress": progress,
            "managed_by": managed_by,
            "read_only": managed_by == BotManager.KUBERNETES,
        }
    )


@router.get("", summary="List campaigns", responses=errors(403))
async def list_campaigns(
    db: DbDep, principal: MemberDep, state: CampaignState | None = None
) -> list[CampaignPublic]:
    """The workspace's campaigns, newest first (without progress; read one for it)."""
    docs = await repo.list_campaigns(db, principal.workspace_id, state.value if state else None)
    return [await _public(db, d, with_progress=False) for d in docs]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a campaign",
    responses={**errors(403, 409), 200: {"description": "Created earlier with this key."}},
)
async def create_campaign(
    spec: CampaignSpec,
    db: DbDep,
    principal: DeveloperDep,
    response: Response,
    key: CreateKey = None,
) -> CampaignPublic:
    """Create a campaign in `draft` (developer); its bot must be in the workspace.

    With `Idempotency-Key` the campaign's id derives from the key (as a `Campaign` resource's
    derives from its reference), so the same key again answers that campaign (200) and creates
    nothing.
    """
    if key is None:
        return await _public(db, await campaigns.create(db, principal, spec))
    doc, created = await campaigns.create_once(db, principal, spec, key)
    if not created:
        response.status_code = status.HTTP_200_OK
    return await _public(db, doc)


@router.put(
    "/by-ref/{ref}",
    summary="Create or update a Kubernetes-managed campaign (operator)",
    responses=errors(403, 409),
)
async def upsert_campaign_by_ref(
    ref: CampaignRef, spec: CampaignSpec, db: DbDep, principal: DeveloperDep, response: Response
) -> CampaignSyncResult:
    """Idempotent upsert by `<namespace>.<name>`, for an API key with `manager: kubernetes`.

    Answers 201 when it created the campaign (in `draft`), 200 otherwise; `changed` says whether
    the definition changed (a completed or stopped campaign is left as it is). The campaign id
    is derived from the workspace and the reference; the campaign is read-only for every other
    caller.
    """
    result = await campaigns.upsert_by_ref(db, principal, ref, spec)
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return result


@router.delete(
    "/by-ref/{ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop and delete a Kubernetes-managed campaign (operator)",
    responses=errors(403),
)
async def delete_campaign_by_ref(ref: CampaignRef, db: DbDep, principal: DeveloperDep) -> None:
    """Stop (if live) and delete the campaign of a `Campaign` resource, with its contacts.

    The operator's finalizer calls it; 204 also when the campaign is already gone.
    """
    await campaigns.delete_by_ref(db, principal, ref)


@router.get("/{campaign_id}", summary="Read a campaign", responses=errors(403, 404))
async def read_campaign(campaign_id: str, db: DbDep, principal: MemberDep) -> CampaignPublic:
    """A campaign with live progress counts."""
    return await _public(db, await campaigns.get(db, principal.workspace_id, campaign_id))


@router.put("/{campaign_id}", summary="Change a campaign", responses=errors(403, 404, 409))
async def update_campaign(
    campaign_id: str, spec: CampaignSpec, db: DbDep, principal: DeveloperDep
) -> CampaignPublic:
    """Replace the definition (developer); refused once completed or stopped.

    Campaigns managed from Kubernetes answer 403.
    """
    return await _public(db, await campaigns.update(db, principal, campaign_id, spec))


@router.post(
    "/{campaign_id}/state",
    summary="Start, pause, complete or stop",
    responses=errors(403, 404, 409),
)
async def change_state(
    campaign_id: str, body: CampaignStateChange, db: DbDep, principal: DeveloperDep
) -> CampaignPublic:
    """Move along draft -> running <-> paused -> completed | stopped (developer); 409 otherwise."""
    doc = await campaigns.change_state(db, principal, campaign_id, body.state)
    return await _public(db, doc)


@router.delete(
    "/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a campaign",
    responses=errors(403, 404, 409),
)
async def delete_campaign(campaign_id: str, db: DbDep, principal: DeveloperDep) -> None:
    """Delete a campaign and its contacts (developer); a running campaign must be stopped first."""
    await campaigns.delete(db, principal, campaign_id)


@router.post(
    "/{campaign_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    summary="Import contacts from CSV",
    responses={**errors(400, 403, 404, 409, 413), 200: {"description": "A replayed import."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}, **MULTIPART_FILE},
            "description": "UTF-8 CSV with a header row; a `phone` column is required. The raw "
            "body, or the `file` part of a `multipart/form-data` body.",
        }
    },
)
async def import_contacts(
    campaign_id: str,
    request: Request,
    response: Response,
    db: DbDep,
    principal: DeveloperDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
    existing: Existing = ExistingContacts.ERROR,
) -> ContactImported:
    """Stream a CSV (`Content-Type: text/csv`, or a multipart `file`) into the campaign.

    Developer. Every row is validated (E.164, time zone, duplicates, do-not-call); one bad row
    and nothing is imported, and the answer (422) lists each row's problems.
    """
    campaign = await campaigns.get_writable(db, principal, campaign_id)
    chunks = upload_chunks(request, settings.max_upload_mb * 1024 * 1024, Upload())
    result = await contact_import.import_contacts(db, campaign, chunks, key=key, existing=existing)
    if result.replayed:
        response.status_code = status.HTTP_200_OK
    return ContactImported.model_validate(result.model_dump())


@router.get("/{campaign_id}/contacts", summary="List contacts", responses=errors(403, 404))
async def list_contacts(
    campaign_id: str,
    db: DbDep,
    principal: MemberDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Page[ContactPublic]:
    """A page of the campaign's contacts."""
    await campaigns.get(db, principal.workspace_id, campaign_id)
    docs = await contacts_repo.list_contacts(db, campaign_id, limit=limit, after=cursor)
    next_cursor = docs[-1]["_id"] if len(docs) == limit else None
    return Page[ContactPublic](
        data=[ContactPublic.model_validate(d) for d in docs], next_cursor=next_cursor
    )

"""Call records: list with filters and cursor pagination, detail, recording links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from ori_backend.api.deps import DbDep, DeveloperDep, MemberDep, RedisDep, SettingsDep
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound
from ori_backend.repositories import calls as repo
from ori_backend.schemas.calls import (
    CallCreate,
    CallCreated,
    CallPublic,
    CallSummary,
    RecordingLink,
    summary_fields,
)
from ori_backend.schemas.common import Page
from ori_backend.services import outbound, recordings
from ori_contracts.call_result import CallOutcome, CallResult

router = APIRouter(prefix="/calls", tags=["calls"])


@router.get("", summary="List calls", responses=errors(403))
async def list_calls(
    db: DbDep,
    principal: MemberDep,
    bot_id: Annotated[str | None, Query(max_length=128)] = None,
    campaign_id: Annotated[str | None, Query(max_length=128)] = None,
    disposition: Annotated[str | None, Query(max_length=64)] = None,
    outcome: CallOutcome | None = None,
    status: Annotated[str | None, Query(pattern="^(created|in_progress|ended)$")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Created at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Created before.")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in the transcript.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[CallSummary]:
    """Calls, newest first, filtered; pass `next_cursor` back as `cursor` for the next page."""
    filters = repo.CallFilters(
        bot_id=bot_id,
        campaign_id=campaign_id,
        disposition=disposition,
        outcome=outcome.value if outcome else None,
        status=status,
        since=since,
        until=until,
        text=q,
    )
    docs = await repo.list_calls(db, principal.workspace_id, filters, limit=limit, cursor=cursor)
    next_cursor = docs[-1]["sort_key"] if len(docs) == limit else None
    data = [CallSummary.model_validate(summary_fields(d)) for d in docs]
    return Page[CallSummary](data=data, next_cursor=next_cursor)


async def _record(db: DbDep, workspace_id: str, call_id: str) -> dict[str, Any]:
    doc = await repo.get(db, call_id, workspace_id)
    if doc is None:
        raise NotFound(f"call {call_id} not found")
    return doc


def _result(doc: dict[str, Any]) -> CallResult | None:
    result = repo.result_of(doc)
    return CallResult.model_validate(result) if result else None


@router.get("/{call_id}", summary="Read a call", responses=errors(403, 404))
async def read_call(call_id: str, db: DbDep, principal: MemberDep) -> CallPublic:
    """One call: transcript, analysis, QC findings, disposition, latency and cost."""
    doc = await _record(db, principal.workspace_id, call_id)
    result = _result(doc)
    costs = [u.cost_usd for u in result.usage if u.cost_usd is not None] if result else []
    return CallPublic.model_validate(
        {**summary_fields(doc), "result": result, "cost_usd": sum(costs) if costs else None}
    )


@router.get(
    "/{call_id}/recording", summary="Link to a call's recording", responses=errors(403, 404, 503)
)
async def read_recording(
    call_id: str, db: DbDep, principal: MemberDep, request: Request
) -> RecordingLink:
    """A presigned URL to download the recording; it expires after one hour."""
    doc = await _record(db, principal.workspace_id, call_id)
    return recordings.recording_link(request.app.state.storage, _result(doc), call_id)


@router.post(
    "",
    status_code=201,
    summary="Place one outbound call now",
    responses=errors(403, 404, 502, 503),
)
async def place_call(
    body: CallCreate, db: DbDep, redis: RedisDep, settings: SettingsDep, principal: DeveloperDep
) -> CallCreated:
    """Call `to_number` with a bot now (developer), on the worker with the most free capacity.

    The chosen worker dials through LiveKit SIP and answers once the callee answers. Answers
    502 when the dial fails (busy, no answer, rejected, no SIP service; the worker delivers the
    call's `failed` result) and 503 with `Retry-After` when no worker is free.
    """
    return CallCreated(**await outbound.place_call(db, redis, settings, principal, body))

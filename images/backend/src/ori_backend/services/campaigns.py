"""Campaigns: create and edit, state transitions, contact import and live progress.

A contact import is all or nothing without transactions: rows are validated one at a time as
the body streams in and staged in batches with ``committed: false`` under an ``import_id``;
only when the whole file is valid is the import committed (one ``update_many``). Any bad row
discards the staged contacts and answers every row's errors; readers (this API and the
dialler) only ever see ``committed: true`` contacts. Staged rows left by a process that died
mid-import are removed at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Final

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import Conflict, NotFound, Unprocessable
from ori_backend.repositories import bots as bots_repo
from ori_backend.repositories import campaigns as repo
from ori_backend.repositories import contacts as contacts_repo
from ori_backend.repositories import identity as identity_repo
from ori_backend.services.contact_rows import (
    RowError,
    RowRules,
    csv_rows,
    validate_header,
    validate_row,
)
from ori_contracts.campaign import CAMPAIGN_TRANSITIONS, CampaignSpec, CampaignState, ContactStatus

__all__ = [
    "MAX_REPORTED_ERRORS",
    "change_state",
    "create",
    "get",
    "import_contacts",
    "progress",
    "update",
]

MAX_REPORTED_ERRORS: Final = 1000
BATCH: Final = 2000

Doc = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


async def get(db: Db, workspace_id: str, campaign_id: str) -> Doc:
    """A workspace's campaign.

    Raises:
        NotFound: No such campaign in this workspace.
    """
    campaign = await repo.get(db, workspace_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


async def _check_bot(db: Db, workspace_id: str, bot_id: str) -> None:
    if await bots_repo.get(db, workspace_id, bot_id) is None:
        raise Unprocessable(f"bot {bot_id} does not exist in this workspace")


async def create(db: Db, workspace_id: str, spec: CampaignSpec) -> Doc:
    """Create a campaign in ``draft``."""
    await _check_bot(db, workspace_id, spec.bot_id)
    now = _now()
    doc = {
        "_id": security.new_id("cmp"),
        "workspace_id": workspace_id,
        **spec.model_dump(mode="json"),
        "state": CampaignState.DRAFT.value,
        "created_at": now,
        "updated_at": now,
    }
    await repo.insert(db, doc)
    return doc


async def update(db: Db, workspace_id: str, campaign_id: str, spec: CampaignSpec) -> Doc:
    """Replace a campaign's definition (not once it is completed or stopped).

    Raises:
        Conflict: The campaign is completed or stopped.
    """
    campaign = await get(db, workspace_id, campaign_id)
    if not CAMPAIGN_TRANSITIONS[CampaignState(campaign["state"])]:
        raise Conflict(f"a {campaign['state']} campaign cannot be changed")
    await _check_bot(db, workspace_id, spec.bot_id)
    changes = {**spec.model_dump(mode="json"), "updated_at": _now()}
    updated = await repo.update(db, workspace_id, campaign_id, changes)
    if updated is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return updated


async def change_state(db: Db, workspace_id: str, campaign_id: str, target: CampaignState) -> Doc:
    """Move a campaign to ``target`` if the state machine allows it.

    Raises:
        Conflict: Not an allowed transition (or a concurrent change won).
    """
    campaign = await get(db, workspace_id, campaign_id)
    current = CampaignState(campaign["state"])
    if target == current:
        return campaign
    if target not in CAMPAIGN_TRANSITIONS[current]:
        allowed = ", ".join(sorted(CAMPAIGN_TRANSITIONS[current])) or "none (final)"
        raise Conflict(f"cannot go from {current} to {target}; allowed: {allowed}")
    changes = {"state": target.value, "updated_at": _now(), f"{target.value}_at": _now()}
    if not await repo.set_state(db, campaign_id, current.value, changes):
        raise Conflict("the campaign changed at the same time; read it again and retry")
    return {**campaign, **changes}


async def _rules(db: Db, campaign: Doc) -> RowRules:
    workspace = await identity_repo.get_workspace(db, campaign["workspace_id"]) or {}
    settings = workspace.get("settings") or {}
    enforce_dnc = settings.get("dnc_numbers_enforced", True)
    return RowRules(
        default_country=settings.get("default_country", "US"),
        default_timezone=campaign.get("default_timezone") or settings.get("timezone"),
        existing_phones=await contacts_repo.existing_phones(db, campaign["_id"]),
        dnc_phones=await contacts_repo.dnc_phones(db, campaign["workspace_id"])
        if enforce_dnc
        else set(),
    )


async def import_contacts(db: Db, campaign: Doc, chunks: AsyncIterator[bytes]) -> Doc:
    """Import a contact CSV into a campaign, all rows or none.

    Raises:
        BadRequest: Not UTF-8, malformed CSV, or an empty file.
        Unprocessable: Any invalid row; ``details`` lists each (up to 1000).
        PayloadTooLarge: The body passed the upload limit.
    """
    if not CAMPAIGN_TRANSITIONS[CampaignState(campaign["state"])]:
        raise Conflict(f"a {campaign['state']} campaign takes no more contacts")
    import_id = security.new_id("imp")
    try:
        count, errors = await _stage(db, campaign, import_id, chunks)
    except BaseException:
        await contacts_repo.discard_import(db, import_id)
        raise
    if errors or count == 0:
        await contacts_repo.discard_import(db, import_id)
        if count == 0 and not errors:
            raise Unprocessable("the file has no data rows")
        shown = [e.as_dict() for e in errors[:MAX_REPORTED_ERRORS]]
        raise Unprocessable(f"{len(errors)} invalid row(s); nothing was imported", details=shown)
    await contacts_repo.commit_import(db, import_id)
    return {"import_id": import_id, "imported": count}


async def _stage(
    db: Db, campaign: Doc, import_id: str, chunks: AsyncIterator[bytes]
) -> tuple[int, list[RowError]]:
    rules, header, errors = await _rules(db, campaign), None, []
    batch: list[Doc] = []
    count, now = 0, _now()
    async for row in csv_rows(chunks):
        if header is None:
            header = validate_header(row)
            continue
        count += 1
        fields, row_errors = validate_row(count, header, row, rules)
        errors += row_errors
        if fields is None or errors:
            continue
        batch.append(_contact_doc(campaign, import_id, count, fields, now))
        if len(batch) >= BATCH:
            await _insert(db, batch)
            batch = []
    if header is None:
        raise Unprocessable("the file is empty; it needs a header row with a phone column")
    if not errors:
        await _insert(db, batch)
    return count, errors


async def _insert(db: Db, batch: list[Doc]) -> None:
    try:
        await contacts_repo.insert_batch(db, batch)
    except contacts_repo.DuplicateKeyError:
        raise Unprocessable("a contact id in the file already exists in this campaign") from None


def _contact_doc(campaign: Doc, import_id: str, row: int, fields: Doc, now: datetime) -> Doc:
    contact_id = fields["id"] or f"{import_id[4:]}-{row}"
    return {
        "_id": f"{campaign['_id']}/{contact_id}",
        **fields,
        "id": contact_id,
        "campaign_id": campaign["_id"],
        "workspace_id": campaign["workspace_id"],
        "status": ContactStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": None,
        "last_outcome": None,
        "last_call_id": None,
        "crm": {},
        "import_id": import_id,
        "imported_at": now,
        "committed": False,
    }


async def progress(db: Db, campaign: Doc) -> Doc:
    """Live counts: contacts per status and the total."""
    counts = await contacts_repo.counts_by_status(db, campaign["_id"])
    by_status = {status.value: counts.get(status.value, 0) for status in ContactStatus}
    return {"total": sum(counts.values()), **by_status}

"""Contact import: a streamed CSV into a campaign, all rows or none, repeatable by key.

All or nothing without transactions: rows are validated one at a time as the body streams in
and staged in batches with ``committed: false`` under an ``import_id``; only when the whole
file is valid is the import committed (one ``update_many``). Any bad row discards the staged
contacts and answers every row's errors; readers (this API and the dialler) only ever see
``committed: true`` contacts. Staged rows left by a process that died mid-import are removed at
start-up.

An import made with an idempotency key is recorded (``contact_imports``) between staging and
committing; the same key again answers the recorded result without importing anything, and
finishes the commit if the first import stopped just before it. The operator keys its imports
by the SHA-256 of the file, so a re-run after a crash never imports a list twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Final

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import Conflict, Unprocessable
from ori_backend.repositories import contact_imports as records
from ori_backend.repositories import contacts as contacts_repo
from ori_backend.repositories import identity as identity_repo
from ori_backend.services.contact_rows import (
    RowError,
    RowRules,
    csv_rows,
    validate_header,
    validate_row,
)
from ori_contracts.campaign import CAMPAIGN_TRANSITIONS, CampaignState, ContactStatus

__all__ = ["MAX_REPORTED_ERRORS", "import_contacts"]

MAX_REPORTED_ERRORS: Final = 1000
BATCH: Final = 2000

Doc = dict[str, Any]


async def import_contacts(
    db: Db, campaign: Doc, chunks: AsyncIterator[bytes], *, key: str | None = None
) -> Doc:
    """Import a contact CSV into a campaign, all rows or none.

    Args:
        db: The database.
        campaign: The campaign document.
        chunks: The CSV body, as it arrives.
        key: An idempotency key; an import already made with it is answered, not repeated.

    Returns:
        ``import_id``, ``imported`` and ``replayed`` (true: the answer of an earlier import).

    Raises:
        BadRequest: Not UTF-8, malformed CSV, or an empty file.
        Unprocessable: Any invalid row; ``details`` lists each (up to 1000).
        PayloadTooLarge: The body passed the upload limit.
        Conflict: The campaign is final, or an import with the same key is being made.
    """
    if key is not None and (earlier := await _replay(db, campaign["_id"], key)) is not None:
        return earlier
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
    if key is not None:
        try:
            await records.claim(db, campaign["_id"], key, import_id, count)
        except records.DuplicateKeyError:  # the same import, made at the same time, won
            await contacts_repo.discard_import(db, import_id)
            if (earlier := await _replay(db, campaign["_id"], key)) is not None:
                return earlier
            raise Conflict("an import with this key is being made; retry") from None
    await contacts_repo.commit_import(db, import_id)
    if key is not None:
        await records.mark_committed(db, campaign["_id"], key)
    return {"import_id": import_id, "imported": count, "replayed": False}


async def _replay(db: Db, campaign_id: str, key: str) -> Doc | None:
    """The recorded answer of the import made with ``key``, finishing its commit if needed."""
    record = await records.find(db, campaign_id, key)
    if record is None:
        return None
    if not record["committed"]:
        committed = await contacts_repo.commit_import(db, record["import_id"])
        if not committed and not await contacts_repo.has_committed(db, record["import_id"]):
            await records.forget(db, campaign_id, key)  # its staged rows are gone: import anew
            return None
        await records.mark_committed(db, campaign_id, key)
    return {"import_id": record["import_id"], "imported": record["imported"], "replayed": True}


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


async def _stage(
    db: Db, campaign: Doc, import_id: str, chunks: AsyncIterator[bytes]
) -> tuple[int, list[RowError]]:
    rules, header, errors = await _rules(db, campaign), None, []
    batch: list[Doc] = []
    count, now = 0, datetime.now(UTC)
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

"""Contact import: a streamed CSV into a campaign, all rows or none, repeatable by key.

Validate, then publish. Rows are validated one at a time as the body streams in (the process
holds one row and one batch, never the file) and spooled to a temporary file; any bad row and
nothing reaches the database: the answer lists every row's problems. Once the whole file is
valid, the import is recorded (``contact_imports``) and its contacts are inserted in batches.
Insert only: the MongoDB-wire store of the local stack (FerretDB v1 over SQLite) rewrites a
collection per updated document, so flipping a "committed" flag on 100,000 staged rows would
take hours, while inserting them takes seconds.

A process that dies while publishing leaves an uncommitted record; after an hour its contacts
are deleted (at start-up, or when the same key is replayed), so an import is never left half
in. An import made with an idempotency key answers the same key again with the recorded
result and imports nothing; the operator keys its imports by the SHA-256 of the file, so a
re-run after a crash never imports a list twice.

With ``existing=skip`` a row whose number or id is already in the campaign is skipped rather
than refused (the contact stays as it is, whatever its progress): a whole list sent again adds
only its new rows. ``existing=sync`` also withdraws the ``pending`` contacts whose numbers are
not in the file, before the import is marked committed (a replay after a crash withdraws
them then); contacts called or being called stay. The operator imports an edited ConfigMap
this way, so a number taken off the list is not called.
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
from ori_backend.services.contact_spool import Spool
from ori_contracts.campaign import (
    CAMPAIGN_TRANSITIONS,
    CampaignState,
    ContactImportResult,
    ContactStatus,
    ExistingContacts,
)

__all__ = ["MAX_REPORTED_ERRORS", "import_contacts", "roll_back_stale"]

MAX_REPORTED_ERRORS: Final = 1000
BATCH: Final = 2000

Doc = dict[str, Any]


async def import_contacts(
    db: Db,
    campaign: Doc,
    chunks: AsyncIterator[bytes],
    *,
    key: str | None = None,
    existing: ExistingContacts = ExistingContacts.ERROR,
) -> ContactImportResult:
    """Import a contact CSV into a campaign, all rows or none.

    Args:
        db: The database.
        campaign: The campaign document.
        chunks: The CSV body, as it arrives.
        key: An idempotency key; an import already made with it is answered, not repeated.
        existing: What a row whose number or id is already in the campaign is: an error, or
            skipped (the contact stays as it is); with ``sync``, pending contacts not in
            the file are withdrawn as well.

    Returns:
        The import's id, the contacts added, skipped and withdrawn, and whether it is the
        answer of an earlier import with the same key.

    Raises:
        BadRequest: Not UTF-8, malformed CSV, or an empty file.
        Unprocessable: Any invalid row; ``details`` lists each (up to 1000).
        PayloadTooLarge: The body passed the upload limit.
        Conflict: The campaign is final, or an import with the same key is being published.
    """
    if key is not None and (earlier := await _replay(db, campaign["_id"], key)) is not None:
        return earlier
    if not CAMPAIGN_TRANSITIONS[CampaignState(campaign["state"])]:
        raise Conflict(f"a {campaign['state']} campaign takes no more contacts")
    import_id = security.new_id("imp")
    skip_existing = existing in (ExistingContacts.SKIP, ExistingContacts.SYNC)
    rules = await _rules(db, campaign, skip_existing=skip_existing)
    with Spool() as spool:
        rows, skipped, errors = await _validate(campaign, import_id, chunks, spool, rules)
        if errors:
            shown = [e.as_dict() for e in errors[:MAX_REPORTED_ERRORS]]
            invalid = len({e.row for e in errors})
            message = f"{invalid} invalid row(s); nothing was imported"
            raise Unprocessable(message, details=shown)
        if rows == 0:
            raise Unprocessable("the file has no data rows")
        record_key, count = key or import_id, rows - skipped
        try:
            await records.claim(db, campaign["_id"], record_key, import_id, count, skipped)
        except records.DuplicateKeyError:  # the same import, made at the same time, won
            if (earlier := await _replay(db, campaign["_id"], record_key)) is not None:
                return earlier
            raise Conflict("an import with this key is being made; retry") from None
        await _publish(db, campaign["_id"], record_key, import_id, spool)
    withdrawn = 0
    if existing is ExistingContacts.SYNC:
        gone = rules.existing_phones - rules.seen_phones
        withdrawn = await contacts_repo.withdraw_pending(
            db, campaign["_id"], gone, keep_ids=rules.seen_ids
        )
    await records.mark_committed(db, campaign["_id"], record_key, withdrawn)
    return ContactImportResult(
        import_id=import_id, imported=count, skipped=skipped, withdrawn=withdrawn
    )


async def _publish(db: Db, campaign_id: str, key: str, import_id: str, spool: Spool) -> None:
    """Insert the spooled contacts; on any failure remove those inserted and the record."""
    try:
        for batch in spool.batches(BATCH):
            await contacts_repo.insert_batch(db, batch)
    except BaseException as error:
        await contacts_repo.delete_import(db, import_id)
        await records.forget(db, records.record_id(campaign_id, key))
        if isinstance(error, contacts_repo.DuplicateKeyError):
            raise Conflict(
                "the same contacts were added to the campaign at the same time; "
                "nothing was imported"
            ) from None
        raise


async def _replay(db: Db, campaign_id: str, key: str) -> ContactImportResult | None:
    """The recorded answer of the import made with ``key``; None when there is none (any more).

    Raises:
        Conflict: That import is being published right now.
    """
    record = await records.find(db, campaign_id, key)
    if record is None:
        return None
    if not record["committed"]:
        if datetime.now(UTC) - record["created_at"] < records.STALE_AFTER:
            raise Conflict("an import with this key is being published; retry in a moment")
        await _roll_back(db, record)  # its process died while publishing: import anew
        return None
    return ContactImportResult(
        import_id=record["import_id"],
        imported=record["imported"],
        skipped=record.get("skipped", 0),
        withdrawn=record.get("withdrawn", 0),
        replayed=True,
    )


async def _roll_back(db: Db, record: Doc) -> None:
    await contacts_repo.delete_import(db, record["import_id"])
    await records.forget(db, record["_id"])


async def roll_back_stale(db: Db) -> int:
    """Remove the contacts of imports whose process died while publishing; how many imports."""
    stale = [record async for record in records.stale(db)]
    for record in stale:
        await _roll_back(db, record)
    return len(stale)


async def _rules(db: Db, campaign: Doc, *, skip_existing: bool) -> RowRules:
    workspace = await identity_repo.get_workspace(db, campaign["workspace_id"]) or {}
    settings = workspace.get("settings") or {}
    enforce_dnc = settings.get("dnc_numbers_enforced", True)
    existing_phones, existing_ids = await contacts_repo.existing(db, campaign["_id"])
    return RowRules(
        default_country=settings.get("default_country", "US"),
        default_timezone=campaign.get("default_timezone") or settings.get("timezone"),
        existing_phones=existing_phones,
        existing_ids=existing_ids,
        dnc_phones=await contacts_repo.dnc_phones(db, campaign["workspace_id"])
        if enforce_dnc
        else set(),
        skip_existing=skip_existing,
    )


async def _validate(
    campaign: Doc, import_id: str, chunks: AsyncIterator[bytes], spool: Spool, rules: RowRules
) -> tuple[int, int, list[RowError]]:
    """Validate and spool every row: the data rows, those skipped, and every problem."""
    header: list[str] | None = None
    errors: list[RowError] = []
    batch: list[Doc] = []
    count, skipped, now = 0, 0, datetime.now(UTC)
    async for row in csv_rows(chunks):
        if header is None:
            header = validate_header(row)
            continue
        count += 1
        fields, row_errors = validate_row(count, header, row, rules)
        errors += row_errors
        if fields is None or errors:
            continue
        if rules.already_in(fields):
            skipped += 1
            continue
        batch.append(_contact_doc(campaign, import_id, count, fields, now))
        if len(batch) >= BATCH:
            spool.write(batch)
            batch = []
    if header is None:
        raise Unprocessable("the file is empty; it needs a header row with a phone column")
    spool.write(batch)
    return count, skipped, errors


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
        "committed": True,  # readers only see committed contacts (older imports staged)
    }

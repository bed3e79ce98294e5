"""Ingest a `CallResult` exactly once per call id, whatever the duplicates or their order.

The record's identity (workspace, bot, version, campaign, contact) comes from the call as the
backend prepared it when it exists; a result for a call the backend never saw creates the
record from the result itself. After a first store the record is handed to the CRM push
(`services.webhooks.enqueue_for_call`); duplicates push nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ori_backend.db import Db
from ori_backend.repositories import calls as calls_repo
from ori_backend.services import webhooks
from ori_contracts.call_result import CallResult

__all__ = ["ingest", "record_fields"]

Doc = dict[str, Any]


def record_fields(result: CallResult) -> tuple[Doc, Doc]:
    """The fields a result sets on its record, and those it sets only on a new record."""
    now = datetime.now(UTC)
    transcript = " \n".join(turn.text for turn in result.transcript if turn.text)
    fields: Doc = {
        "status": "ended",
        "result": result.model_dump(mode="json"),
        "result_received_at": now,
        "outcome": result.outcome.value,
        "disposition": result.disposition,
        "started_at": result.timings.started_at,
        "ended_at": result.timings.ended_at,
        "transcript_text": transcript.lower(),
        "worker_id": result.worker_id,
    }
    created = result.timings.created_at or result.timings.started_at
    on_insert: Doc = {
        "workspace_id": result.workspace_id,
        "bot_id": result.bot_id,
        "bot_version": result.bot_version,
        "campaign_id": result.campaign_id,
        "contact_id": result.contact_id,
        "direction": result.direction.value,
        "telephony": result.telephony_provider.value,
        "from_number": result.from_number,
        "to_number": result.to_number,
        "created_at": created,
        "sort_key": calls_repo.sort_key(created, result.call_id),
    }
    return fields, on_insert


async def ingest(db: Db, result: CallResult) -> bool:
    """Store ``result``; True when stored now, False when the call already had one.

    A repeat whose first delivery was claimed but not written (the process died in between)
    completes the write from the claim, so a claimed result is never lost.
    """
    fields, on_insert = record_fields(result)
    earlier = await calls_repo.claim_result(
        db, result.call_id, {"fields": fields, "on_insert": on_insert}
    )
    if earlier is not None:
        record = await calls_repo.get(db, result.call_id)
        if earlier.get("fields") and (record is None or record.get("result_received_at") is None):
            await calls_repo.apply_result(
                db, result.call_id, earlier["fields"], earlier["on_insert"]
            )
            await _push(db, result.call_id)
        return False
    await calls_repo.apply_result(db, result.call_id, fields, on_insert)
    await _push(db, result.call_id)
    return True


async def _push(db: Db, call_id: str) -> None:
    record = await calls_repo.get(db, call_id)
    if record is not None:
        await webhooks.enqueue_for_call(db, record)

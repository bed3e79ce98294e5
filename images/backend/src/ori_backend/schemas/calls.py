"""Call records, recordings, result ingestion and direct outbound calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ori_contracts.call_result import CallResult
from ori_contracts.ids import E164, BotId
from ori_contracts.runtime_config import Contact

__all__ = [
    "CallCreate",
    "CallCreated",
    "CallIngested",
    "CallPublic",
    "CallSummary",
    "RecordingLink",
]


class CallSummary(BaseModel):
    """A call in a list: who, when, how it ended."""

    id: str = Field(description="Call id.")
    status: str = Field(
        description="`created`, `in_progress`, `ended`, or `not_placed` (no worker was free)."
    )
    bot_id: str | None = Field(default=None, description="Bot run.")
    bot_version: int | None = Field(default=None, description="Bot version run.")
    campaign_id: str | None = Field(default=None, description="Campaign, if any.")
    contact_id: str | None = Field(default=None, description="Contact, if known.")
    direction: str | None = Field(default=None, description="`inbound` or `outbound`.")
    from_number: str | None = Field(default=None, description="Caller number.")
    to_number: str | None = Field(default=None, description="Called number.")
    created_at: datetime = Field(description="When the call was created.")
    outcome: str | None = Field(default=None, description="How it ended, once ended.")
    disposition: str | None = Field(default=None, description="Disposition code, once ended.")


class CallPublic(CallSummary):
    """One call with its full result: transcript, analysis, QC, disposition, latency, cost."""

    result: CallResult | None = Field(default=None, description="The call's result, once ended.")
    cost_usd: float | None = Field(default=None, description="Sum of known provider costs.")


class RecordingLink(BaseModel):
    """A presigned link to a call's recording."""

    url: str = Field(description="GET this URL to download the recording.")
    expires_at: datetime = Field(description="When the link stops working (1 hour).")
    format: str = Field(description="File format.")
    duration_ms: int = Field(description="Length of the audio.")


class CallIngested(BaseModel):
    """Answer to a result delivery."""

    call_id: str = Field(description="The call.")
    stored: bool = Field(description="True: stored now; False: it was already stored.")


class CallCreate(BaseModel):
    """Place one outbound call now."""

    bot_id: BotId = Field(description="The bot to run.")
    to_number: E164 = Field(description="Number to call, E.164.")
    from_number: E164 | None = Field(default=None, description="Caller id to present.")
    contact: Contact | None = Field(
        default=None, description="Who is called (name, CRM data); default: just the number."
    )


class CallCreated(BaseModel):
    """A placed call."""

    id: str = Field(description="Call id.")
    status: str = Field(description="`created`: a worker has accepted it.")
    worker: str = Field(description="The worker that took the call.")


def summary_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the list and detail models read it."""
    return {**doc, "id": doc["_id"]}

"""CRM webhooks and their deliveries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ori_contracts.ids import HttpUrlStr

__all__ = ["DeliveryPublic", "WebhookCreate", "WebhookCreated", "WebhookPublic"]


class WebhookCreate(BaseModel):
    """Where to POST call records: for some bots, some campaigns, or (neither) every call."""

    url: HttpUrlStr = Field(description="Receiver URL.", examples=["https://crm.example.com/ori"])
    bot_ids: list[str] = Field(default_factory=list, max_length=100, description="Only these bots.")
    campaign_ids: list[str] = Field(
        default_factory=list, max_length=100, description="Only these campaigns."
    )
    enabled: bool = Field(default=True, description="Whether records are pushed.")


class WebhookPublic(WebhookCreate):
    """A webhook (its secret is shown only when it is created)."""

    id: str = Field(description="Webhook id.")
    created_at: datetime = Field(description="When it was created.")


class WebhookCreated(WebhookPublic):
    """A new webhook with its signing secret, shown this once."""

    secret: str = Field(description="Verifies `X-Ori-Signature` (HMAC-SHA256 of `<t>.<body>`).")


class DeliveryPublic(BaseModel):
    """One push of one call record to one webhook."""

    id: str = Field(description="Delivery id, also sent as `X-Ori-Delivery`.")
    webhook_id: str = Field(description="The webhook.")
    call_id: str = Field(description="The call pushed.")
    status: str = Field(description="pending, sending, delivered or failed.")
    attempts: int = Field(description="Attempts made.")
    next_attempt_at: datetime | None = Field(default=None, description="When it is tried next.")
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")
    last_status_code: int | None = Field(default=None, description="Receiver's last HTTP status.")
    delivered_at: datetime | None = Field(default=None, description="When it was delivered.")
    created_at: datetime = Field(description="When it was queued.")

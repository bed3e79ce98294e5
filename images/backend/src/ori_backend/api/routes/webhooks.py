"""CRM webhooks, and their deliveries (visible, retryable by hand)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from ori_backend.api.deps import DbDep, DeveloperDep, MemberDep
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound
from ori_backend.repositories import webhooks as repo
from ori_backend.schemas.auth import public
from ori_backend.schemas.webhooks import (
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from ori_backend.security import new_id

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks", summary="List webhooks", responses=errors(403))
async def list_webhooks(db: DbDep, principal: MemberDep) -> list[WebhookPublic]:
    """The workspace's webhooks."""
    return [
        WebhookPublic.model_validate(public(w))
        for w in await repo.list_webhooks(db, principal.workspace_id)
    ]


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Create a webhook",
    responses=errors(403),
)
async def create_webhook(body: WebhookCreate, db: DbDep, principal: DeveloperDep) -> WebhookCreated:
    """Create a webhook (developer); the answer holds its signing secret, shown once."""
    doc = {
        "_id": new_id("whk"),
        "workspace_id": principal.workspace_id,
        **body.model_dump(),
        "secret": f"whsec_{secrets.token_urlsafe(24)}",
        "created_at": datetime.now(UTC),
    }
    await repo.insert_webhook(db, doc)
    return WebhookCreated.model_validate(public(doc))


@router.put("/webhooks/{webhook_id}", summary="Change a webhook", responses=errors(403, 404))
async def update_webhook(
    webhook_id: str, body: WebhookCreate, db: DbDep, principal: DeveloperDep
) -> WebhookPublic:
    """Replace URL, scope or enabled flag (developer); the secret stays."""
    doc = await repo.update_webhook(db, principal.workspace_id, webhook_id, body.model_dump())
    if doc is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return WebhookPublic.model_validate(public(doc))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook",
    responses=errors(403, 404),
)
async def delete_webhook(webhook_id: str, db: DbDep, principal: DeveloperDep) -> None:
    """Delete a webhook (developer); pending deliveries to it then fail."""
    if not await repo.delete_webhook(db, principal.workspace_id, webhook_id):
        raise NotFound(f"webhook {webhook_id} not found")


@router.get("/webhook-deliveries", summary="List deliveries", responses=errors(403))
async def list_deliveries(
    db: DbDep,
    principal: MemberDep,
    delivery_status: Annotated[
        Literal["pending", "sending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    """Deliveries, newest first; `status=failed` shows what needs attention."""
    docs = await repo.list_deliveries(db, principal.workspace_id, delivery_status, limit)
    return [DeliveryPublic.model_validate(public(d)) for d in docs]


@router.post(
    "/webhook-deliveries/{delivery_id}/retry",
    summary="Retry a delivery now",
    responses=errors(403, 404),
)
async def retry_delivery(
    delivery_id: str, db: DbDep, principal: DeveloperDep, request: Request
) -> DeliveryPublic:
    """Queue a delivery again, now, with a fresh set of attempts (developer)."""
    doc = await repo.requeue(db, principal.workspace_id, delivery_id, datetime.now(UTC))
    if doc is None:
        raise NotFound(f"delivery {delivery_id} not found (or being sent right now)")
    request.app.state.deliveries.wake()
    return DeliveryPublic.model_validate(public(doc))

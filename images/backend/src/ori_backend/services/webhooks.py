"""CRM push: POST each stored call record to the webhooks of its bot, campaign or workspace.

Deliveries are signed, retried with backoff and durable across restarts.

Each delivery is a row in ``webhook_deliveries`` (see `repositories.webhooks`); a
:class:`DeliveryWorker` in every backend process sends due rows. A request carries
``X-Ori-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's
secret>`` and ``X-Ori-Delivery`` (the delivery id, for the receiver's deduplication).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from ori_backend.db import Db
from ori_backend.repositories import calls as calls_repo
from ori_backend.repositories import webhooks as repo

__all__ = [
    "MAX_ATTEMPTS",
    "DeliveryWorker",
    "backoff_s",
    "deliver_one",
    "enqueue_for_call",
    "sign",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 8
LEASE_S: Final = 60.0
TIMEOUT_S: Final = 10.0

Doc = dict[str, Any]


def backoff_s(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 5 s doubling, at most one hour."""
    return float(min(5 * 2 ** max(attempts - 1, 0), 3600))


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Ori-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _applies(webhook: Doc, record: Doc) -> bool:
    bots, campaigns = webhook.get("bot_ids") or [], webhook.get("campaign_ids") or []
    if not bots and not campaigns:
        return True
    return record.get("bot_id") in bots or record.get("campaign_id") in campaigns


def _payload(record: Doc) -> Doc:
    return {
        "event": "call.completed",
        "call_id": record["_id"],
        "workspace_id": record.get("workspace_id"),
        "bot_id": record.get("bot_id"),
        "bot_version": record.get("bot_version"),
        "campaign_id": record.get("campaign_id"),
        "contact_id": record.get("contact_id"),
        "result": calls_repo.result_of(record),
    }


def _delivery_id(webhook_id: str, call_id: str) -> str:
    return f"dlv_{hashlib.sha256(f'{webhook_id}/{call_id}'.encode()).hexdigest()[:24]}"


async def enqueue_for_call(db: Db, record: Doc) -> int:
    """Queue one delivery per applicable webhook; returns how many were queued."""
    workspace_id = record.get("workspace_id")
    if not workspace_id:
        return 0
    now, queued = datetime.now(UTC), 0
    for webhook in await repo.matching_webhooks(db, workspace_id):
        if not _applies(webhook, record):
            continue
        doc = {
            "_id": _delivery_id(webhook["_id"], record["_id"]),
            "workspace_id": workspace_id,
            "webhook_id": webhook["_id"],
            "call_id": record["_id"],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "lease_until": None,
            "last_error": None,
            "last_status_code": None,
            "delivered_at": None,
            "payload": json.dumps(_payload(record), default=str),
        }
        queued += await repo.insert_delivery(db, doc)
    return queued


async def deliver_one(db: Db, http: httpx.AsyncClient) -> bool:
    """Send one due delivery; False when none was due."""
    now = datetime.now(UTC)
    delivery = await repo.claim_due(db, now, LEASE_S)
    if delivery is None:
        return False
    webhook = await repo.get_webhook(db, delivery["workspace_id"], delivery["webhook_id"])
    if webhook is None:
        await repo.finish(
            db, delivery["_id"], {"status": "failed", "last_error": "webhook deleted"}
        )
        return True
    error, code = await _post(http, webhook, delivery)
    attempts = int(delivery["attempts"]) + 1
    if error is None:
        changes: Doc = {"status": "delivered", "delivered_at": datetime.now(UTC)}
    elif attempts >= MAX_ATTEMPTS:
        changes = {"status": "failed"}
    else:
        changes = {
            "status": "pending",
            "next_attempt_at": now + timedelta(seconds=backoff_s(attempts)),
        }
    changes |= {"attempts": attempts, "last_error": error, "last_status_code": code}
    await repo.finish(db, delivery["_id"], changes)
    return True


async def _post(
    http: httpx.AsyncClient, webhook: Doc, delivery: Doc
) -> tuple[str | None, int | None]:
    body = str(delivery["payload"]).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Ori-Signature": sign(webhook["secret"], body, int(time.time())),
        "X-Ori-Delivery": delivery["_id"],
        "X-Ori-Event": "call.completed",
    }
    try:
        answer = await http.post(webhook["url"], content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:500], None
    if answer.is_success:
        return None, answer.status_code
    return f"HTTP {answer.status_code}: {answer.text[:200]}", answer.status_code


class DeliveryWorker:
    """Sends due deliveries in the background until stopped."""

    def __init__(self, db: Db, *, poll_interval_s: float = 1.0) -> None:
        self.db = db
        self.poll_interval_s = poll_interval_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._run(), name="webhook-deliveries")

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop (a send in flight is abandoned; its lease makes it due again)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    while await deliver_one(self.db, http):
                        pass
                except Exception:  # the loop must outlive a database hiccup
                    log.exception("webhook delivery loop failed; retrying")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)

"""The backend's operator endpoints (`docs/api.md`), as the operator calls them.

`PUT /api/v1/bots/by-ref/{namespace}.{name}` upserts a bot idempotently (a changed spec makes a
new version, the same spec none) and `DELETE` removes it; `PUT`/`DELETE
/api/v1/campaigns/by-ref/{namespace}.{name}` do the same for campaigns, and contact imports
carry an `Idempotency-Key`, so a sync re-run after a crash repeats nothing. The operator
authenticates with an API key created with `manager: kubernetes`, which makes such bots and
campaigns read-only for everyone else.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from ori_contracts.bot_spec import BOTS_BY_REF_PATH, BotSpec, BotSyncResult
from ori_contracts.campaign import (
    CAMPAIGNS_BY_REF_PATH,
    EXISTING_CONTACTS_PARAM,
    IDEMPOTENCY_KEY_HEADER,
    CampaignSpec,
    CampaignState,
    CampaignSyncResult,
    ContactImportResult,
    ExistingContacts,
)
from ori_contracts.wire import bearer

__all__ = ["Backend", "BackendRejected", "BackendUnavailable"]

_TIMEOUT_S = 10.0
_CAMPAIGNS = "/api/v1/campaigns"


class BackendUnavailable(Exception):
    """The backend could not be reached or failed (5xx): try again later."""


class BackendRejected(Exception):
    """The backend refused the request (4xx): retrying the same input will not help."""

    def __init__(
        self, status: int, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        self.status = status
        self.details = details or []
        """The `Problem`'s `details`: one entry per field or CSV-row problem."""
        super().__init__(message)

    def invalid_rows(self) -> int | None:
        """How many CSV rows the details name (at most the backend's first 1000 problems)."""
        rows = {item["row"] for item in self.details if isinstance(item.get("row"), int)}
        return len(rows) or None


class Backend:
    """A client of the backend's operator endpoints."""

    def __init__(self, base_url: str, token: str, *, client: httpx.AsyncClient | None = None):
        self._client = client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=bearer(token), timeout=_TIMEOUT_S
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def upsert_bot(self, ref: str, spec: BotSpec) -> BotSyncResult:
        """Create or update the bot known by `ref` (`<namespace>.<name>`)."""
        body = spec.model_dump(mode="json", by_alias=True)
        answer = await self._send("PUT", f"{BOTS_BY_REF_PATH}/{quote(ref)}", json=body)
        return BotSyncResult.model_validate(answer.json())

    async def delete_bot(self, ref: str) -> None:
        """Delete the bot known by `ref`; a bot already gone is fine."""
        await self._send("DELETE", f"{BOTS_BY_REF_PATH}/{quote(ref)}")

    async def upsert_campaign(self, ref: str, spec: CampaignSpec) -> CampaignSyncResult:
        """Create (in `draft`) or update the campaign known by `ref` (`<namespace>.<name>`)."""
        body = spec.model_dump(mode="json")
        answer = await self._send("PUT", f"{CAMPAIGNS_BY_REF_PATH}/{quote(ref)}", json=body)
        return CampaignSyncResult.model_validate(answer.json())

    async def delete_campaign(self, ref: str) -> None:
        """Stop (if live) and delete the campaign known by `ref`; one already gone is fine."""
        await self._send("DELETE", f"{CAMPAIGNS_BY_REF_PATH}/{quote(ref)}")

    async def get_campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """A campaign with its live progress, or None when it does not exist."""
        try:
            answer = await self._send("GET", f"{_CAMPAIGNS}/{quote(campaign_id)}")
        except BackendRejected as error:
            if error.status == httpx.codes.NOT_FOUND:
                return None
            raise
        return dict(answer.json())

    async def change_campaign_state(self, campaign_id: str, state: CampaignState) -> None:
        """Move a campaign along its state machine."""
        path = f"{_CAMPAIGNS}/{quote(campaign_id)}/state"
        await self._send("POST", path, json={"state": state.value})

    async def import_contacts(
        self, campaign_id: str, csv_text: str, *, key: str
    ) -> ContactImportResult:
        """Import a whole contact list with ``existing=sync``.

        Rows already in the campaign are skipped; pending contacts no longer on the list
        are withdrawn.

        A repeat with the same `key` answers the first import's result and imports nothing.

        Raises:
            BackendRejected: 422 with one detail per row problem, or 400 for a malformed file.
        """
        path = f"{_CAMPAIGNS}/{quote(campaign_id)}/contacts"
        headers = {"Content-Type": "text/csv", IDEMPOTENCY_KEY_HEADER: key}
        params = {EXISTING_CONTACTS_PARAM: ExistingContacts.SYNC.value}
        body = csv_text.encode()
        answer = await self._send("POST", path, content=body, headers=headers, params=params)
        return ContactImportResult.model_validate(answer.json())

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise BackendUnavailable(f"{method} {path}: {type(error).__name__}: {error}") from error
        if answer.status_code >= 500:
            raise BackendUnavailable(f"{method} {path}: HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise _rejected(answer)
        return answer


def _rejected(answer: httpx.Response) -> BackendRejected:
    """The backend's `Problem` (`code`, `message`, `details`), its first details in one line."""
    status = answer.status_code
    try:
        problem = answer.json()
    except ValueError:
        return BackendRejected(status, f"HTTP {status}: {answer.text[:500]}")
    if not isinstance(problem, dict):
        return BackendRejected(status, f"HTTP {status}: {str(problem)[:500]}")
    message = str(problem.get("message", "")) or f"HTTP {status}"
    raw = problem.get("details")
    details = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
    if details:
        message = f"{message}: {'; '.join(_detail(item) for item in details[:5])}"
    return BackendRejected(status, message, details)


def _detail(item: dict[str, Any]) -> str:
    """One detail: a field's (`msg`) or a CSV row's (`row`, `column`, `message`) problem."""
    if "row" in item:
        return f"row {item['row']} {item.get('column', '')}: {item.get('message', '')}"
    return str(item.get("msg", item))

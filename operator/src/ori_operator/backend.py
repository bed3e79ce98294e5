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
    IDEMPOTENCY_KEY_HEADER,
    CampaignSpec,
    CampaignState,
    CampaignSyncResult,
)
from ori_contracts.wire import bearer

__all__ = ["Backend", "BackendRejected", "BackendUnavailable"]

_TIMEOUT_S = 10.0
_CAMPAIGNS = "/api/v1/campaigns"


class BackendUnavailable(Exception):
    """The backend could not be reached or failed (5xx): try again later."""


class BackendRejected(Exception):
    """The backend refused the request (4xx): retrying the same input will not help."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


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

    async def import_contacts(self, campaign_id: str, csv_text: str, *, key: str) -> int:
        """Import a contact CSV once: a repeat with the same `key` answers the first count."""
        path = f"{_CAMPAIGNS}/{quote(campaign_id)}/contacts"
        headers = {"Content-Type": "text/csv", IDEMPOTENCY_KEY_HEADER: key}
        answer = await self._send("POST", path, content=csv_text.encode(), headers=headers)
        return int(answer.json()["imported"])

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise BackendUnavailable(f"{method} {path}: {type(error).__name__}: {error}") from error
        if answer.status_code >= 500:
            raise BackendUnavailable(f"{method} {path}: HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise BackendRejected(answer.status_code, _problem(answer))
        return answer


def _problem(answer: httpx.Response) -> str:
    """The backend's `Problem` (`code`, `message`, `details`) as one line."""
    try:
        problem = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}: {answer.text[:500]}"
    message = str(problem.get("message", "")) or f"HTTP {answer.status_code}"
    details = problem.get("details")
    if isinstance(details, list) and details:
        shown = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                          for item in details[:5])  # fmt: skip
        message = f"{message}: {shown}"
    return message

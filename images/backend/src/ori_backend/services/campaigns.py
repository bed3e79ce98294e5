"""Campaigns: create and edit, state transitions, live progress, upsert by Kubernetes reference.

A campaign created through ``PUT /api/v1/campaigns/by-ref/{namespace}.{name}`` by an API key
with ``manager: kubernetes`` is managed from Kubernetes: every write by anyone else (edit, state
change, contact import, deletion) answers 403 naming the ``Campaign`` resource to edit. Its id
is derived from the workspace and the reference, so repeated or concurrent upserts (an operator
that crashed before recording the id) can never create a second campaign. ``POST /campaigns``
with an ``Idempotency-Key`` derives its id the same way (:func:`ori_backend.security.derived_id`),
so a create repeated after a lost answer finds the campaign it made. Contact import lives in
:mod:`ori_backend.services.contact_import`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import Conflict, Forbidden, NotFound, Unprocessable
from ori_backend.repositories import bots as bots_repo
from ori_backend.repositories import campaigns as repo
from ori_backend.repositories import contact_imports as import_records
from ori_backend.repositories import contacts as contacts_repo
from ori_backend.schemas.common import Principal
from ori_contracts.bot_spec import BotManager
from ori_contracts.campaign import (
    CAMPAIGN_TRANSITIONS,
    CampaignSpec,
    CampaignState,
    CampaignSyncResult,
    ContactStatus,
)

__all__ = [
    "change_state",
    "create",
    "create_once",
    "delete",
    "delete_by_ref",
    "get",
    "get_writable",
    "progress",
    "update",
    "upsert_by_ref",
]

Doc = dict[str, Any]
_LIVE = {CampaignState.RUNNING.value, CampaignState.PAUSED.value}


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


async def get_writable(db: Db, principal: Principal, campaign_id: str) -> Doc:
    """A campaign the caller may change.

    Raises:
        NotFound: No such campaign in this workspace.
        Forbidden: It is managed from Kubernetes and the caller is not the operator.
    """
    campaign = await get(db, principal.workspace_id, campaign_id)
    if (
        campaign.get("managed_by") == BotManager.KUBERNETES
        and principal.manager != BotManager.KUBERNETES
    ):
        raise Forbidden(
            f"campaign {campaign_id} is managed from Kubernetes "
            f"(Campaign {campaign['external_ref']}); edit that resource instead"
        )
    return campaign


async def _check_bot(db: Db, workspace_id: str, bot_id: str) -> None:
    if await bots_repo.get(db, workspace_id, bot_id) is None:
        raise Unprocessable(f"bot {bot_id} does not exist in this workspace")


async def create(
    db: Db,
    principal: Principal,
    spec: CampaignSpec,
    *,
    campaign_id: str | None = None,
    external_ref: str | None = None,
) -> Doc:
    """Create a campaign in ``draft``; raises DuplicateKeyError when ``campaign_id`` exists."""
    await _check_bot(db, principal.workspace_id, spec.bot_id)
    now = _now()
    doc = {
        "_id": campaign_id or security.new_id("cmp"),
        "workspace_id": principal.workspace_id,
        **spec.model_dump(mode="json"),
        "state": CampaignState.DRAFT.value,
        "managed_by": BotManager.KUBERNETES if external_ref else BotManager.API,
        "external_ref": external_ref,
        "created_at": now,
        "updated_at": now,
    }
    await repo.insert(db, doc)
    return doc


async def create_once(
    db: Db, principal: Principal, spec: CampaignSpec, key: str
) -> tuple[Doc, bool]:
    """Create a campaign in ``draft`` once per idempotency key (its id derives from the key).

    The same key again answers the campaign it created, as it is now, and creates nothing.

    Returns:
        The campaign, and whether this call created it.

    Raises:
        Unprocessable: The bot is not in the workspace.
        Conflict: The same key is creating the campaign at this moment.
    """
    campaign_id = _keyed_campaign_id(principal.workspace_id, key)
    if (earlier := await repo.get(db, principal.workspace_id, campaign_id)) is not None:
        return earlier, False
    try:
        return await create(db, principal, spec, campaign_id=campaign_id), True
    except repo.DuplicateKeyError:  # a concurrent create with the same key won
        earlier = await repo.get(db, principal.workspace_id, campaign_id)
    if earlier is None:  # and its campaign was deleted since
        raise Conflict("a campaign with this key is being created or deleted; retry") from None
    return earlier, False


async def update(db: Db, principal: Principal, campaign_id: str, spec: CampaignSpec) -> Doc:
    """Replace a campaign's definition (not once it is completed or stopped).

    Raises:
        Forbidden: It is managed from Kubernetes.
        Conflict: The campaign is completed or stopped.
    """
    return await _replace(db, await get_writable(db, principal, campaign_id), spec)


async def _replace(db: Db, campaign: Doc, spec: CampaignSpec) -> Doc:
    if not CAMPAIGN_TRANSITIONS[CampaignState(campaign["state"])]:
        raise Conflict(f"a {campaign['state']} campaign cannot be changed")
    await _check_bot(db, campaign["workspace_id"], spec.bot_id)
    changes = {**spec.model_dump(mode="json"), "updated_at": _now()}
    updated = await repo.update(db, campaign["workspace_id"], campaign["_id"], changes)
    if updated is None:
        raise NotFound(f"campaign {campaign['_id']} not found")
    return updated


async def change_state(
    db: Db, principal: Principal, campaign_id: str, target: CampaignState
) -> Doc:
    """Move a campaign to ``target`` if the state machine allows it.

    Raises:
        Forbidden: It is managed from Kubernetes.
        Conflict: Not an allowed transition (or a concurrent change won).
    """
    return await _transition(db, await get_writable(db, principal, campaign_id), target)


async def _transition(db: Db, campaign: Doc, target: CampaignState) -> Doc:
    current = CampaignState(campaign["state"])
    if target == current:
        return campaign
    if target not in CAMPAIGN_TRANSITIONS[current]:
        allowed = ", ".join(sorted(CAMPAIGN_TRANSITIONS[current])) or "none (final)"
        raise Conflict(f"cannot go from {current} to {target}; allowed: {allowed}")
    changes = {"state": target.value, "updated_at": _now(), f"{target.value}_at": _now()}
    if not await repo.set_state(db, campaign["_id"], current.value, changes):
        raise Conflict("the campaign changed at the same time; read it again and retry")
    return {**campaign, **changes}


async def delete(db: Db, principal: Principal, campaign_id: str) -> None:
    """Delete a campaign and its contacts; a running or paused one must be stopped first.

    Raises:
        Forbidden: It is managed from Kubernetes.
        Conflict: It is running or paused.
    """
    campaign = await get_writable(db, principal, campaign_id)
    if campaign["state"] in _LIVE:
        raise Conflict(f"stop the {campaign['state']} campaign before deleting it")
    await _remove(db, campaign)


async def _remove(db: Db, campaign: Doc) -> None:
    await repo.delete(db, campaign["workspace_id"], campaign["_id"])
    await import_records.delete_for_campaign(db, campaign["_id"])


def _ref_campaign_id(workspace_id: str, ref: str) -> str:
    return security.derived_id("cmp_k8s", workspace_id, ref)


def _keyed_campaign_id(workspace_id: str, key: str) -> str:
    return security.derived_id("cmp", workspace_id, f"idempotency-key/{key}")


def _require_operator(principal: Principal) -> None:
    if principal.manager != BotManager.KUBERNETES:
        raise Forbidden("only an API key with manager=kubernetes may write campaigns by reference")


async def upsert_by_ref(
    db: Db, principal: Principal, ref: str, spec: CampaignSpec
) -> CampaignSyncResult:
    """Create or update the campaign of a Kubernetes ``Campaign`` (idempotent).

    A completed or stopped campaign is left as it is (``changed: false``).

    Raises:
        Forbidden: The caller is not the operator's key.
        Unprocessable: The bot is not in the workspace.
    """
    _require_operator(principal)
    campaign_id = _ref_campaign_id(principal.workspace_id, ref)
    campaign = await repo.get(db, principal.workspace_id, campaign_id)
    if campaign is None:
        try:
            await create(db, principal, spec, campaign_id=campaign_id, external_ref=ref)
        except repo.DuplicateKeyError:  # a concurrent upsert created it
            campaign = await repo.get(db, principal.workspace_id, campaign_id)
            if campaign is None:
                raise Conflict("the campaign is being changed at the same time; retry") from None
        else:
            return CampaignSyncResult(
                id=campaign_id, state=CampaignState.DRAFT, created=True, changed=True
            )
    state = CampaignState(campaign["state"])
    if not CAMPAIGN_TRANSITIONS[state] or CampaignSpec.model_validate(campaign) == spec:
        return CampaignSyncResult(id=campaign_id, state=state, created=False, changed=False)
    await _replace(db, campaign, spec)
    return CampaignSyncResult(id=campaign_id, state=state, created=False, changed=True)


async def delete_by_ref(db: Db, principal: Principal, ref: str) -> bool:
    """Stop (if live) and delete the campaign of a ``Campaign``; False when there was none.

    Raises:
        Forbidden: The caller is not the operator's key.
    """
    _require_operator(principal)
    campaign_id = _ref_campaign_id(principal.workspace_id, ref)
    campaign = await repo.get(db, principal.workspace_id, campaign_id)
    if campaign is None:
        return False
    if campaign["state"] in _LIVE:
        campaign = await _transition(db, campaign, CampaignState.STOPPED)
    await _remove(db, campaign)
    return True


async def progress(db: Db, campaign: Doc) -> Doc:
    """Live counts: contacts per status and the total."""
    counts = await contacts_repo.counts_by_status(db, campaign["_id"])
    by_status = {status.value: counts.get(status.value, 0) for status in ContactStatus}
    return {"total": sum(counts.values()), **by_status}

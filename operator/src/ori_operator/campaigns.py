"""One Campaign sync: resolve references, push to the backend, copy progress back.

Called by the Campaign daemon in `handlers.campaign` on every change and every
`BACKEND_RESYNC_INTERVAL_S`. Every step is idempotent, so a sync cut short anywhere (an
operator killed between the backend's answer and the status write) is simply run again: the
campaign is upserted by `<namespace>.<name>` (the backend derives its id from the reference,
so a re-run finds the same campaign) and the contacts are imported with the SHA-256 of the
list as `Idempotency-Key` (a re-run gets the first import's answer).

The ConfigMap or Secret is read on every pass; a list whose digest differs from
`status.contacts_digest` is imported whole with `existing=sync`, so an edited list adds its new
rows, skips those already in the campaign, and withdraws the pending contacts whose numbers
left it (those called or being called stay). A list the backend refuses (invalid rows) is
recorded with its digest and the count of bad rows, and not retried until it changes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from ori_contracts import campaign, redis_keys
from ori_contracts.crds import BOT, CAMPAIGN, FLEETPOOL, CampaignSpec, CampaignStatus
from ori_operator.backend import Backend, BackendRejected, BackendUnavailable
from ori_operator.context import OperatorContext
from ori_operator.reconcile import campaign as status_of

__all__ = ["delete_campaign", "sync_campaign"]

log = logging.getLogger(__name__)
_FINAL = {campaign.CampaignState.COMPLETED.value, campaign.CampaignState.STOPPED.value}
_LIST_REFUSED = {400, 422}  # malformed file, invalid rows: only an edited list can help


@dataclass(frozen=True)
class _Resolved:
    spec: CampaignSpec
    bot_id: str
    csv: str | None
    """The contact CSV of a ConfigMap or Secret; None with `list_id`."""


class _Unresolved(Exception):
    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


async def sync_campaign(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    generation: int | None,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
) -> CampaignStatus:
    """Bring the backend's copy of one Campaign in line and record where it stands."""
    previous = CampaignStatus.model_validate(dict(status or {}))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        resolved = await _resolve(ctx, namespace, spec)
        result = await _push(ctx, namespace, name, resolved, previous, generation, now)
    except _Unresolved as problem:
        result = status_of.not_ready(previous, problem.reason, str(problem),
                                     generation=generation, now=now)  # fmt: skip
    except BackendUnavailable as error:
        result = status_of.unsynced(previous, "BackendUnavailable", str(error),
                                    generation=generation, now=now)  # fmt: skip
    except BackendRejected as error:
        result = status_of.not_ready(previous, "BackendRejected", str(error),
                                     generation=generation, now=now)  # fmt: skip
    new = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    if new != previous.model_dump(mode="json", by_alias=True, exclude_none=True):
        await ctx.kube.patch_status(CAMPAIGN.plural, namespace, name, new)
    return result


async def _resolve(ctx: OperatorContext, namespace: str, raw: Mapping[str, Any]) -> _Resolved:
    try:
        spec = CampaignSpec.model_validate(dict(raw))
    except ValidationError as error:
        message = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in error.errors())  # fmt: skip
        raise _Unresolved("InvalidSpec", message[:2000]) from None
    bot = await ctx.kube.get_custom(BOT.plural, namespace, spec.bot_ref.name)
    if bot is None:
        raise _Unresolved("BotNotFound", f"Bot {spec.bot_ref.name} does not exist")
    bot_id = str((bot.get("status") or {}).get("backend_id") or "")
    if not bot_id and ctx.backend is not None:
        raise _Unresolved("BotNotSynced", f"Bot {spec.bot_ref.name} is not in the backend yet")
    if await ctx.kube.get_custom(FLEETPOOL.plural, namespace, spec.fleet_pool_ref.name) is None:
        raise _Unresolved(
            "FleetPoolNotFound", f"FleetPool {spec.fleet_pool_ref.name} does not exist"
        )
    return _Resolved(spec, bot_id, await _contacts(ctx, namespace, spec))


async def _contacts(ctx: OperatorContext, namespace: str, spec: CampaignSpec) -> str | None:
    source = spec.contacts
    ref, kind = (source.config_map_ref, "configmaps") if source.config_map_ref else (
        source.secret_ref, "secrets")  # fmt: skip
    if ref is None:  # list_id: contacts are uploaded through the API
        return None
    csv = await ctx.kube.config_value(kind, namespace, ref.name, ref.key)
    if csv is None:
        raise _Unresolved("ContactsNotFound", f"{kind[:-1]} {ref.name} has no key {ref.key}")
    return csv


async def _push(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    resolved: _Resolved,
    previous: CampaignStatus,
    generation: int | None,
    now: datetime,
) -> CampaignStatus:
    backend = ctx.backend
    if backend is None:
        return status_of.unsynced(previous, "SyncDisabled", "BACKEND_URL is not set",
                                  generation=generation, now=now)  # fmt: skip
    wanted = resolved.spec.for_backend(name, resolved.bot_id)
    synced = await backend.upsert_campaign(f"{namespace}.{name}", wanted)
    current = await _contacts_status(backend, synced, resolved, previous, generation, now)
    refused = status_of.contacts_refused(current)
    for state in status_of.transitions(synced.state, resolved.spec.state, contacts_refused=refused):
        await backend.change_campaign_state(synced.id, state)
    fresh = await backend.get_campaign(synced.id)
    if fresh is None:
        raise BackendUnavailable(f"campaign {synced.id} vanished during the sync")
    return status_of.synced(current, fresh, lease_holder=await _lease(ctx, synced.id),
                            generation=generation, now=now)  # fmt: skip


async def _contacts_status(
    backend: Backend,
    synced: campaign.CampaignSyncResult,
    resolved: _Resolved,
    previous: CampaignStatus,
    generation: int | None,
    now: datetime,
) -> CampaignStatus:
    """`previous` with the contact list's import, when there is a new list to import."""
    if resolved.csv is None:
        list_id = str(resolved.spec.contacts.list_id)
        return status_of.uploaded_list(previous, list_id, generation=generation, now=now)
    digest = hashlib.sha256(resolved.csv.encode()).hexdigest()
    if previous.contacts_digest == digest or synced.state.value in _FINAL:
        return previous  # this list was imported or refused already; a final campaign takes none
    outcome = await _import(backend, synced.id, resolved.csv, digest)
    return status_of.with_contacts(previous, outcome, generation=generation, now=now)


async def _import(
    backend: Backend, campaign_id: str, csv: str, digest: str
) -> status_of.ContactsImport:
    try:
        result = await backend.import_contacts(campaign_id, csv, key=f"sha256-{digest}")
    except BackendRejected as error:
        if error.status not in _LIST_REFUSED:
            raise  # e.g. 409 while an import with this key is being written: retried
        log.warning("campaign %s: the backend refused the contact list: %s", campaign_id, error)
        return status_of.ContactsImport(digest, invalid_rows=error.invalid_rows(),
                                        problem=str(error))  # fmt: skip
    log.info("campaign %s: list %s imported: %d added, %d already in, %d withdrawn", campaign_id,
             digest[:12], result.imported, result.skipped, result.withdrawn)  # fmt: skip
    return status_of.ContactsImport(digest, result=result)


async def _lease(ctx: OperatorContext, campaign_id: str) -> str | None:
    try:
        holder = await ctx.allocator.redis.get(redis_keys.campaign_lease(campaign_id))
    except (RedisError, ValueError) as error:
        log.warning("cannot read the lease of campaign %s: %s", campaign_id, error)
        return None
    return holder.decode() if isinstance(holder, bytes) else holder


async def delete_campaign(ctx: OperatorContext, namespace: str, name: str) -> None:
    """Stop (if live) and delete the backend's campaign (the Campaign's finalizer).

    Raises:
        BackendUnavailable: Not reachable now; the deletion waits and is retried.
    """
    if ctx.backend is not None:
        await ctx.backend.delete_campaign(f"{namespace}.{name}")

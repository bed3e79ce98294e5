"""Bots: create, change (each change a new immutable version), delete, upsert by reference.

A bot created through ``PUT /api/v1/bots/by-ref/{namespace}.{name}`` by an API key with
``manager: kubernetes`` is managed from Kubernetes: it is read-only for everyone else (403
saying which resource to edit). Its id is derived from the workspace and the reference, so
concurrent or repeated upserts cannot create two bots.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import Conflict, Forbidden, NotFound, Unprocessable
from ori_backend.repositories import bots as repo
from ori_backend.repositories import knowledge as kb_repo
from ori_backend.schemas.common import Principal
from ori_backend.services.merge_patch import merge_patch
from ori_contracts.bot_spec import BotManager, BotSpec, BotSyncResult

__all__ = ["create", "delete", "delete_by_ref", "get", "patch", "update", "upsert_by_ref"]

Doc = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


async def _check_knowledge_bases(db: Db, workspace_id: str, spec: BotSpec) -> None:
    if not spec.knowledge_base_ids:
        return
    found = {kb["_id"] for kb in await kb_repo.get_kbs(db, workspace_id, spec.knowledge_base_ids)}
    missing = sorted(set(spec.knowledge_base_ids) - found)
    if missing:
        raise Unprocessable(f"unknown knowledge bases in this workspace: {', '.join(missing)}")


def _spec_doc(spec: BotSpec) -> Doc:
    return spec.model_dump(mode="json")


async def get(db: Db, workspace_id: str, bot_id: str) -> Doc:
    """A workspace's live bot.

    Raises:
        NotFound: No such bot in this workspace.
    """
    bot = await repo.get(db, workspace_id, bot_id)
    if bot is None:
        raise NotFound(f"bot {bot_id} not found")
    return bot


async def create(
    db: Db,
    principal: Principal,
    spec: BotSpec,
    *,
    bot_id: str | None = None,
    external_ref: str | None = None,
) -> Doc:
    """Create a bot at version 1.

    Raises:
        Unprocessable: It names knowledge bases the workspace does not have.
    """
    await _check_knowledge_bases(db, principal.workspace_id, spec)
    now = _now()
    bot_id = bot_id or security.new_id("bot")
    await repo.insert_version(db, _version_doc(bot_id, 1, spec, principal, now))
    doc = {
        "_id": bot_id,
        "workspace_id": principal.workspace_id,
        "version": 1,
        "spec": _spec_doc(spec),
        "managed_by": BotManager.KUBERNETES if external_ref else BotManager.API,
        "external_ref": external_ref,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    await repo.insert(db, doc)
    return doc


def _version_doc(bot_id: str, version: int, spec: BotSpec, who: Principal, now: datetime) -> Doc:
    return {
        "_id": f"{bot_id}@{version}",
        "bot_id": bot_id,
        "workspace_id": who.workspace_id,
        "version": version,
        "spec": _spec_doc(spec),
        "created_at": now,
        "created_by": who.actor,
    }


def _check_writable(bot: Doc, principal: Principal) -> None:
    if (
        bot.get("managed_by") == BotManager.KUBERNETES
        and principal.manager != BotManager.KUBERNETES
    ):
        raise Forbidden(
            f"bot {bot['_id']} is managed from Kubernetes (Bot {bot['external_ref']}); "
            "edit that resource instead"
        )


async def update(db: Db, principal: Principal, bot_id: str, spec: BotSpec) -> Doc:
    """Replace a bot's definition, making a new version (none if nothing changed).

    Raises:
        NotFound: No such bot.
        Forbidden: It is managed from Kubernetes.
        Conflict: Another change won the race; retry.
    """
    bot = await get(db, principal.workspace_id, bot_id)
    _check_writable(bot, principal)
    return await _new_version(db, principal, bot, spec)


async def patch(db: Db, principal: Principal, bot_id: str, changes: Doc) -> Doc:
    """Change part of a bot (a JSON merge patch of its spec), making a new version.

    Raises:
        NotFound: No such bot.
        Forbidden: It is managed from Kubernetes.
        Unprocessable: The patched bot is not valid; ``details`` says where.
        Conflict: Another change won the race; retry.
    """
    bot = await get(db, principal.workspace_id, bot_id)
    _check_writable(bot, principal)
    try:
        spec = BotSpec.model_validate(merge_patch(bot["spec"], changes))
    except ValidationError as error:
        details = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"].removeprefix("Value error, "),
             "type": e["type"]}
            for e in error.errors()
        ]  # fmt: skip
        first = details[0]
        where = ".".join(map(str, first["loc"][1:]))
        problem = f"{where}: {first['msg']}" if where else first["msg"]
        raise Unprocessable(f"the patched bot is not valid: {problem}", details=details) from None
    return await _new_version(db, principal, bot, spec)


async def _new_version(db: Db, principal: Principal, bot: Doc, spec: BotSpec) -> Doc:
    await _check_knowledge_bases(db, principal.workspace_id, spec)
    if bot["spec"] == _spec_doc(spec) and bot.get("deleted_at") is None:
        return bot
    now, version = _now(), int(bot["version"]) + 1
    try:
        await repo.insert_version(db, _version_doc(bot["_id"], version, spec, principal, now))
    except repo.DuplicateKeyError:
        raise Conflict("the bot was changed at the same time; read it again and retry") from None
    changes = {"version": version, "spec": _spec_doc(spec), "updated_at": now, "deleted_at": None}
    if not await repo.advance(db, bot["_id"], bot["version"], changes):
        raise Conflict("the bot was changed at the same time; read it again and retry")
    return {**bot, **changes}


async def delete(db: Db, principal: Principal, bot_id: str) -> None:
    """Delete a bot; its versions stay, because call records name them.

    Raises:
        NotFound: No such bot.
        Forbidden: It is managed from Kubernetes.
    """
    bot = await get(db, principal.workspace_id, bot_id)
    _check_writable(bot, principal)
    await repo.mark_deleted(db, bot_id, _now())


def _ref_bot_id(workspace_id: str, ref: str) -> str:
    return security.derived_id("bot_k8s", workspace_id, ref)


def _require_operator(principal: Principal) -> None:
    if principal.manager != BotManager.KUBERNETES:
        raise Forbidden("only an API key with manager=kubernetes may write bots by reference")


async def upsert_by_ref(db: Db, principal: Principal, ref: str, spec: BotSpec) -> BotSyncResult:
    """Create or update the bot of a Kubernetes ``Bot`` (idempotent).

    Raises:
        Forbidden: The caller is not the operator's key.
    """
    _require_operator(principal)
    bot = await repo.get_by_ref(db, principal.workspace_id, ref)
    if bot is None:
        bot_id = _ref_bot_id(principal.workspace_id, ref)
        try:
            await create(db, principal, spec, bot_id=bot_id, external_ref=ref)
        except repo.DuplicateKeyError:
            bot = await repo.get_by_ref(db, principal.workspace_id, ref)
            if bot is None:
                raise Conflict("the bot is being created at the same time; retry") from None
        else:
            return BotSyncResult(id=bot_id, version=1, created=True, changed=True)
    updated = await _new_version(db, principal, bot, spec)
    changed = updated["version"] != bot["version"]
    return BotSyncResult(id=bot["_id"], version=updated["version"], created=False, changed=changed)


async def delete_by_ref(db: Db, principal: Principal, ref: str) -> bool:
    """Delete the bot of a Kubernetes ``Bot``; False when there was none (idempotent)."""
    _require_operator(principal)
    bot = await repo.get_by_ref(db, principal.workspace_id, ref)
    if bot is None or bot.get("deleted_at") is not None:
        return False
    await repo.mark_deleted(db, bot["_id"], _now())
    return True

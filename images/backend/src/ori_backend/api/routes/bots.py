"""Bots: CRUD with immutable versions, and the operator's upsert by Kubernetes reference."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status

from ori_backend.api.deps import DbDep, DeveloperDep, MemberDep
from ori_backend.api.responses import errors
from ori_backend.errors import NotFound
from ori_backend.repositories import bots as repo
from ori_backend.schemas.bots import BotPublic, BotVersionPublic
from ori_backend.schemas.common import Page
from ori_backend.services import bots
from ori_contracts.bot_spec import EXTERNAL_REF_PATTERN, BotManager, BotSpec, BotSyncResult

router = APIRouter(prefix="/bots", tags=["bots"])

BotRef = Annotated[
    str,
    Path(
        pattern=EXTERNAL_REF_PATTERN,
        description="`<namespace>.<name>` of the Kubernetes `Bot`.",
        examples=["default.front-desk"],
    ),
]


def _public(doc: dict[str, Any]) -> BotPublic:
    return BotPublic(
        id=doc["_id"],
        version=doc["version"],
        managed_by=doc["managed_by"],
        read_only=doc["managed_by"] == BotManager.KUBERNETES,
        external_ref=doc.get("external_ref"),
        spec=BotSpec.model_validate(doc["spec"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


@router.get("", summary="List bots", responses=errors(403))
async def list_bots(
    db: DbDep,
    principal: MemberDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[BotPublic]:
    """The workspace's bots, by id, a page at a time."""
    docs = await repo.list_bots(db, principal.workspace_id, limit=limit, after=cursor)
    next_cursor = docs[-1]["_id"] if len(docs) == limit else None
    return Page[BotPublic](data=[_public(d) for d in docs], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a bot", responses=errors(403))
async def create_bot(spec: BotSpec, db: DbDep, principal: DeveloperDep) -> BotPublic:
    """Create a bot at version 1 (developer). Validated as a complete runtime config."""
    return _public(await bots.create(db, principal, spec))


@router.get("/{bot_id}", summary="Read a bot", responses=errors(403, 404))
async def read_bot(bot_id: str, db: DbDep, principal: MemberDep) -> BotPublic:
    """A bot at its current version."""
    return _public(await bots.get(db, principal.workspace_id, bot_id))


@router.put("/{bot_id}", summary="Change a bot (new version)", responses=errors(403, 404, 409))
async def update_bot(bot_id: str, spec: BotSpec, db: DbDep, principal: DeveloperDep) -> BotPublic:
    """Replace the definition; makes a new version unless nothing changed (developer).

    Bots managed from Kubernetes answer 403.
    """
    return _public(await bots.update(db, principal, bot_id, spec))


@router.patch(
    "/{bot_id}",
    summary="Change part of a bot (JSON merge patch, new version)",
    responses=errors(403, 404, 409),
)
async def patch_bot(
    bot_id: str,
    changes: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            description="A JSON merge patch (RFC 7396) of the bot's spec: members to set, "
            "`null` to reset one to its default; lists are replaced whole.",
            examples=[{"persona": {"greeting": "Hello, Acme Dental."}, "description": None}],
        ),
    ],
    db: DbDep,
    principal: DeveloperDep,
) -> BotPublic:
    """Apply a merge patch to the definition; a new version unless nothing changed (developer).

    `Content-Type: application/merge-patch+json` (or `application/json`). The patched bot is
    validated whole, like a `PUT`. Bots managed from Kubernetes answer 403.
    """
    return _public(await bots.patch(db, principal, bot_id, changes))


@router.delete(
    "/{bot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a bot",
    responses=errors(403, 404),
)
async def delete_bot(bot_id: str, db: DbDep, principal: DeveloperDep) -> None:
    """Delete a bot (developer); its versions stay for the call records that name them."""
    await bots.delete(db, principal, bot_id)


@router.get("/{bot_id}/versions", summary="List a bot's versions", responses=errors(403, 404))
async def list_versions(bot_id: str, db: DbDep, principal: MemberDep) -> list[BotVersionPublic]:
    """Every version, newest first."""
    await bots.get(db, principal.workspace_id, bot_id)
    return [BotVersionPublic.model_validate(v) for v in await repo.list_versions(db, bot_id)]


@router.get("/{bot_id}/versions/{version}", summary="Read one version", responses=errors(403, 404))
async def read_version(
    bot_id: str, version: int, db: DbDep, principal: MemberDep
) -> BotVersionPublic:
    """One immutable version (also of a deleted bot: call records name them)."""
    bot = await repo.get(db, principal.workspace_id, bot_id, deleted=True)
    found = await repo.get_version(db, bot_id, version) if bot else None
    if found is None:
        raise NotFound(f"bot {bot_id} has no version {version}")
    return BotVersionPublic.model_validate(found)


@router.put(
    "/by-ref/{ref}",
    summary="Create or update a Kubernetes-managed bot (operator)",
    responses=errors(403, 409),
)
async def upsert_bot_by_ref(
    ref: BotRef, spec: BotSpec, db: DbDep, principal: DeveloperDep, response: Response
) -> BotSyncResult:
    """Idempotent upsert by `<namespace>.<name>`, for an API key with `manager: kubernetes`.

    Answers 201 when it created the bot, 200 otherwise; `changed` says whether a new version
    was made. The bot is read-only for every other caller.
    """
    result = await bots.upsert_by_ref(db, principal, ref, spec)
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return result


@router.delete(
    "/by-ref/{ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a Kubernetes-managed bot (operator)",
    responses=errors(403),
)
async def delete_bot_by_ref(ref: BotRef, db: DbDep, principal: DeveloperDep) -> None:
    """Delete the bot of a `Bot` resource (finalizer); 204 also when it is already gone."""
    await bots.delete_by_ref(db, principal, ref)

"""Build, cache and serve one call's `RuntimeConfig` (``POST /api/v1/config``).

The first request for a call builds the config from the call's bot version, its contact (with
CRM data) and the bot's knowledge bases, stores it in Redis under
``redis_keys.runtime_config(call_id)`` and marks the call in progress. Every later request for
the same call answers the cached bytes, so a repeated request answers the same config and the
warm path is one Redis read.

A call the backend prepared (direct outbound, campaign) is found by id. An inbound call is
created here from the request, which must then name the bot; it runs the bot's current
version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from ori_backend.db import Db
from ori_backend.errors import NotFound
from ori_backend.repositories import bots as bots_repo
from ori_backend.repositories import calls as calls_repo
from ori_backend.repositories import contacts as contacts_repo
from ori_backend.repositories import knowledge as kb_repo
from ori_contracts import redis_keys
from ori_contracts.bot_spec import BotSpec
from ori_contracts.ids import new_call_id
from ori_contracts.runtime_config import Contact, RuntimeConfig
from ori_contracts.tools import KnowledgeBaseRef
from ori_contracts.wire import ConfigRequest

__all__ = ["cached_config", "collection_name", "new_call_doc", "runtime_config"]

Doc = dict[str, Any]


def collection_name(workspace_id: str) -> str:
    """The Qdrant collection holding a workspace's knowledge-base chunks."""
    return f"ori_kb_{workspace_id}"


def new_call_doc(**fields: Any) -> Doc:
    """A fresh call record (status ``created``) with its list key."""
    now = datetime.now(UTC)
    call_id = fields.pop("call_id")
    return {
        "_id": call_id,
        "status": "created",
        "created_at": now,
        "sort_key": calls_repo.sort_key(now, call_id),
        "result_received_at": None,
        **fields,
    }


def inbound_call_doc(
    bot: Doc, telephony: str, from_number: str | None, to_number: str | None, **extra: Any
) -> Doc:
    """A fresh record for a call to ``bot`` that came in (no campaign, no contact)."""
    return new_call_doc(
        call_id=new_call_id(),
        workspace_id=bot["workspace_id"],
        bot_id=bot["_id"],
        bot_version=bot["version"],
        campaign_id=None,
        contact_id=None,
        contact=None,
        direction="inbound",
        telephony=telephony,
        from_number=from_number,
        to_number=to_number,
        **extra,
    )


async def cached_config(redis: Redis, call_id: str) -> bytes | None:
    """The cached config JSON of a call, if any."""
    cached = await redis.get(redis_keys.runtime_config(call_id))
    return cached.encode() if isinstance(cached, str) else cached


async def runtime_config(db: Db, redis: Redis, request: ConfigRequest) -> bytes:
    """The config JSON of ``request.call_id``, built and cached on first use.

    Raises:
        NotFound: The call is unknown and names no bot, or the bot or its version is gone.
    """
    cached = await cached_config(redis, request.call_id)
    if cached is not None:
        return cached
    call = await _call_for(db, request)
    config = await _build(db, call, request)
    data = config.model_dump_json().encode()
    key = redis_keys.runtime_config(request.call_id)
    if not await redis.set(key, data, ex=redis_keys.RUNTIME_CONFIG_TTL_S, nx=True):
        data = await cached_config(redis, request.call_id) or data  # another request won
    started = {"status": "in_progress", "config_served_at": datetime.now(UTC)}
    if request.worker_id:
        started["worker_id"] = request.worker_id
    if call["status"] != "ended":
        await calls_repo.mark_started(db, request.call_id, started)
    return data


async def _call_for(db: Db, request: ConfigRequest) -> Doc:
    call = await calls_repo.get(db, request.call_id)
    if call is not None:
        return call
    if request.bot_id is None:
        raise NotFound(f"call {request.call_id} is unknown; an inbound call must name its bot_id")
    bot = await bots_repo.get_any_workspace(db, request.bot_id)
    if bot is None:
        raise NotFound(f"bot {request.bot_id} not found")
    contact = await _inbound_contact(db, bot["workspace_id"], request.from_number)
    doc = new_call_doc(
        call_id=request.call_id,
        workspace_id=bot["workspace_id"],
        bot_id=bot["_id"],
        bot_version=bot["version"],
        campaign_id=None,
        contact_id=contact.id if contact else None,
        contact=contact.model_dump(mode="json") if contact else None,
        direction=request.direction.value,
        telephony=request.telephony.value,
        from_number=request.from_number,
        to_number=request.to_number,
        carrier_call_id=request.carrier_call_id,
    )
    return await calls_repo.insert_if_absent(db, doc)


async def _inbound_contact(db: Db, workspace_id: str, phone: str | None) -> Contact | None:
    if phone is None:
        return None
    found = await contacts_repo.latest_by_phone(db, workspace_id, phone)
    return contacts_repo.to_contract(found) if found else None


async def _build(db: Db, call: Doc, request: ConfigRequest) -> RuntimeConfig:
    version = await bots_repo.get_version(db, call["bot_id"], call["bot_version"])
    if version is None:
        raise NotFound(f"bot {call['bot_id']} has no version {call['bot_version']}")
    spec = BotSpec.model_validate(version["spec"])
    kbs = await kb_repo.get_kbs(db, call["workspace_id"], spec.knowledge_base_ids)
    refs = [
        KnowledgeBaseRef(id=kb["_id"], name=kb["name"], collection=kb["collection"]) for kb in kbs
    ]
    missing = set(spec.knowledge_base_ids) - {ref.id for ref in refs}
    refs += [KnowledgeBaseRef(id=kb, name=kb, collection="deleted") for kb in sorted(missing)]
    contact = call.get("contact")
    return spec.to_runtime_config(
        knowledge_bases=refs,
        call_id=call["_id"],
        bot_id=call["bot_id"],
        bot_version=call["bot_version"],
        workspace_id=call["workspace_id"],
        campaign_id=call.get("campaign_id"),
        contact=Contact.model_validate(contact) if contact else None,
        direction=call.get("direction") or request.direction,
        telephony_provider=request.telephony,
    )

"""Inbound LiveKit SIP calls: LiveKit's webhook to the backend, forwarded to a claimed worker.

Point LiveKit's webhook at ``POST /api/v1/inbound/livekit`` (not at a worker: one busy worker
would leave the caller alone in the room). The request is LiveKit's, signed with
``LIVEKIT_API_SECRET``: a JWT in ``Authorization`` issued by ``LIVEKIT_API_KEY`` whose
``sha256`` claim is the body's digest. Only ``participant_joined`` for a SIP participant
whose dispatch rule set ``ori.bot_id`` starts a call; every other event is acknowledged and
ignored. The backend records the call, claims an idle worker of ``FLEET_POOL``, and forwards
the same signed webhook to that worker's ``/livekit/dispatch`` with the call id and a per-call
token (``X-Ori-Call-Id``, ``X-Ori-Call-Token``): the worker checks both signatures and its
bot joins the room. A repeated webhook for the same participant starts nothing new
(``redis_keys.livekit_dispatch``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Final

import httpx
import jwt
from redis.asyncio import Redis

from ori_backend.db import Db
from ori_backend.errors import BadGateway, NotFound, ServiceUnavailable
from ori_backend.repositories import bots as bots_repo
from ori_backend.repositories import calls as calls_repo
from ori_backend.services import runtime_config
from ori_backend.services.capacity import call_token, claim_worker, release_worker
from ori_backend.settings import BackendSettings
from ori_contracts import redis_keys
from ori_contracts.ids import ID_PATTERN
from ori_contracts.wire import (
    CALL_ID_HEADER,
    CALL_TOKEN_HEADER,
    LIVEKIT_BOT_ATTRIBUTE,
    LIVEKIT_DISPATCH_PATH,
)

__all__ = ["InvalidWebhook", "SipCaller", "dispatch_sip_call", "sip_caller", "verified_event"]

_ID = re.compile(ID_PATTERN)
FORWARD_TIMEOUT_S: Final = 15.0


class InvalidWebhook(Exception):
    """Not a webhook this LiveKit signed."""


def verified_event(body: bytes, authorization: str, api_key: str, api_secret: str) -> Any:
    """The webhook event, once its signature and body digest check out.

    Raises:
        InvalidWebhook: A bad or missing token, another issuer, or a body it does not sign.
    """
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(token, api_secret, algorithms=["HS256"], leeway=30)
    except jwt.PyJWTError as exc:
        raise InvalidWebhook(f"bad webhook token: {exc}") from exc
    if claims.get("iss") != api_key:
        raise InvalidWebhook("the webhook token was issued for another API key")
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if not hmac.compare_digest(str(claims.get("sha256", "")), digest):
        raise InvalidWebhook("the webhook token does not sign this body")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidWebhook(f"the webhook body is not JSON: {exc}") from exc


@dataclass(frozen=True)
class SipCaller:
    """A SIP caller who joined a room, and the bot the number's dispatch rule names."""

    room: str
    participant_sid: str
    bot_id: str
    from_number: str | None
    to_number: str | None


def sip_caller(event: Any) -> SipCaller | str:
    """The SIP caller a ``participant_joined`` event announces, or why it announces none."""
    if not isinstance(event, dict) or event.get("event") != "participant_joined":
        name = event.get("event") if isinstance(event, dict) else None
        return f"event {name or '(none)'} starts no call"
    participant = event.get("participant") or {}
    room = (event.get("room") or {}).get("name") or ""
    if participant.get("kind") != "SIP":
        return f"participant {participant.get('identity')} is not a SIP caller"
    attributes = participant.get("attributes") or {}
    bot_id = str(attributes.get(LIVEKIT_BOT_ATTRIBUTE, ""))
    if not bot_id or not _ID.fullmatch(bot_id) or not room:
        return f"SIP caller in room {room!r} has no valid {LIVEKIT_BOT_ATTRIBUTE} attribute"
    return SipCaller(
        room=room,
        participant_sid=str(participant.get("sid") or participant.get("identity") or ""),
        bot_id=bot_id,
        from_number=attributes.get("sip.phoneNumber"),
        to_number=attributes.get("sip.trunkPhoneNumber"),
    )


async def dispatch_sip_call(
    db: Db,
    redis: Redis,
    settings: BackendSettings,
    caller: SipCaller,
    webhook: tuple[bytes, str],
) -> dict[str, Any]:
    """Record the call, claim a worker and forward the signed webhook to it.

    Returns:
        The worker's answer (``LiveKitCallStarted``), or ``ignored`` for a repeat.

    Raises:
        NotFound: No such bot.
        ServiceUnavailable: No worker is idle (the call is ``not_placed``).
        BadGateway: The claimed worker did not take the call.
    """
    bot = await bots_repo.get_any_workspace(db, caller.bot_id)
    if bot is None:
        raise NotFound(f"bot {caller.bot_id} not found")
    doc = runtime_config.inbound_call_doc(bot, "livekit", caller.from_number, caller.to_number)
    call_id = doc["_id"]
    key = redis_keys.livekit_dispatch(caller.room, caller.participant_sid)
    if not await redis.set(key, call_id, nx=True, ex=redis_keys.CALL_CLAIM_TTL_S):
        earlier = await redis.get(key)
        return {"ignored": f"this caller was dispatched already as {earlier!r}"}
    await calls_repo.insert_if_absent(db, doc)
    secret = settings.voxcore_secret  # without it no worker could be told the call is its own
    claim = await claim_worker(redis, settings.fleet_pool, call_id) if secret else None
    if claim is None or secret is None:
        await _not_placed(db, call_id, redis, key)
        raise ServiceUnavailable("no worker is free to take the call", headers={"Retry-After": "5"})
    token = call_token(secret.get_secret_value(), call_id, claim)
    body, authorization = webhook
    headers = {
        "Authorization": authorization,
        "Content-Type": "application/webhook+json",
        CALL_ID_HEADER: call_id,
        CALL_TOKEN_HEADER: token,
    }
    url = f"{claim.url}{LIVEKIT_DISPATCH_PATH}"
    try:
        async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S) as http:
            answer = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        answer, problem = None, f"{type(exc).__name__}: {exc}"
    if answer is not None and answer.status_code == 202:
        started: dict[str, Any] = answer.json()
        return started
    problem = f"HTTP {answer.status_code}: {answer.text[:200]}" if answer is not None else problem
    await release_worker(redis, settings.fleet_pool, claim, call_id)
    await _not_placed(db, call_id, redis, key)
    raise BadGateway(f"worker {claim.worker_id} did not take the call: {problem}")


async def _not_placed(db: Db, call_id: str, redis: Redis, key: str) -> None:
    """Mark the call not placed, and let LiveKit's retry of the webhook try again."""
    await calls_repo.mark_not_placed(db, call_id)
    await redis.delete(key)

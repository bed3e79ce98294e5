"""Inbound carrier calls: a carrier's webhook claims a worker, and the answer routes the call.

Twilio asks ``POST /api/v1/inbound/twilio/{bot_id}`` what to do with a call to a number whose
voice webhook is set there. The request must carry Twilio's ``X-Twilio-Signature`` for
``TWILIO_AUTH_TOKEN`` (HMAC-SHA1 over the URL and the sorted form parameters). The backend
records the call, claims an idle worker of ``FLEET_POOL`` for it (`services.capacity`) and
answers TwiML that connects a Media Stream to that worker through the call router
(``VOXCORE_WSS_BASE_URL``), with the call id and a per-call token (valid for
`capacity.TOKEN_TTL_S`) as stream parameters, which the worker checks. With no worker idle the
caller hears :data:`BUSY_MESSAGE`, the call is hung up, and its record says ``not_placed``.
A webhook Twilio delivers again (same ``CallSid``) gets the first delivery's answer and
starts no second call (`redis_keys.twilio_answer`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from redis.asyncio import Redis

from ori_backend.db import Db
from ori_backend.errors import NotFound
from ori_backend.repositories import bots as bots_repo
from ori_backend.repositories import calls as calls_repo
from ori_backend.services import runtime_config
from ori_backend.services.capacity import call_token, claim_worker
from ori_backend.settings import BackendSettings
from ori_contracts import allocation, redis_keys
from ori_contracts.ids import new_call_id

__all__ = ["BUSY_MESSAGE", "answer_twilio_call", "twilio_signature"]

REPEAT_WAIT_STEPS: Final = 50
REPEAT_WAIT_STEP_S: Final = 0.1
"""A repeated webhook waits up to 5 s for the first delivery's answer."""
BUSY_MESSAGE: Final = "Sorry, all our lines are busy right now. Please call again later."

Params = Sequence[tuple[str, str]]


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """Twilio's request signature: HMAC-SHA1 over the URL, then each sorted name and value."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_by_twilio(auth_token: str, url: str, params: Params, signature: str) -> bool:
    """Whether ``signature`` is Twilio's for this request (compared in constant time)."""
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode())


def stream_twiml(url: str, parameters: dict[str, str]) -> str:
    """TwiML that connects the call to a bidirectional Media Stream at ``url``."""
    items = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in parameters.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f"<Stream url={quoteattr(url)}>{items}</Stream></Connect></Response>"
    )


def busy_twiml(message: str = BUSY_MESSAGE) -> str:
    """TwiML that tells the caller no one can take the call, and hangs up."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Say>{escape(message)}</Say><Hangup/></Response>"
    )


async def answer_twilio_call(
    db: Db, redis: Redis, settings: BackendSettings, bot_id: str, params: Params
) -> str:
    """Record an inbound Twilio call for ``bot_id``, claim a worker, and answer its TwiML.

    Raises:
        NotFound: No such bot.
    """
    bot = await bots_repo.get_any_workspace(db, bot_id)
    if bot is None:
        raise NotFound(f"bot {bot_id} not found")
    form = dict(params)
    key = redis_keys.twilio_answer(form.get("CallSid") or new_call_id())
    if not await redis.set(key, "", nx=True, ex=redis_keys.INBOUND_ANSWER_TTL_S):
        return await _earlier_answer(redis, key)
    try:
        twiml = await _connect(db, redis, settings, bot, form)
    except BaseException:
        await redis.delete(key)  # nothing was answered: a repeat may try again
        raise
    await redis.set(key, twiml, xx=True, keepttl=True)
    return twiml


async def _connect(
    db: Db, redis: Redis, settings: BackendSettings, bot: dict[str, Any], form: dict[str, str]
) -> str:
    """Record the call and claim a worker for it: TwiML to reach it, or the busy TwiML."""
    doc = runtime_config.inbound_call_doc(
        bot, "twilio", form.get("From"), form.get("To"), carrier_call_id=form.get("CallSid")
    )
    call_id = doc["_id"]
    await calls_repo.insert_if_absent(db, doc)
    secret = settings.voxcore_secret  # without it no worker could be told the call is its own
    claim = await claim_worker(redis, settings.fleet_pool, call_id) if secret else None
    if claim is None or secret is None:
        await calls_repo.mark_not_placed(db, call_id)
        return busy_twiml()
    token = call_token(secret.get_secret_value(), call_id, claim)
    path = f"/twilio/{bot['_id']}"
    url = allocation.routed_url(settings.voxcore_wss_base_url, claim.address, path)
    return stream_twiml(url, {"call_id": call_id, "token": token})


async def _earlier_answer(redis: Redis, key: str) -> str:
    """The answer to the first delivery of this webhook, once it is decided."""
    for _ in range(REPEAT_WAIT_STEPS):
        earlier = await redis.get(key)
        if earlier is None:
            break  # the first delivery failed and answered nothing
        if earlier:
            return earlier.decode() if isinstance(earlier, bytes) else str(earlier)
        await asyncio.sleep(REPEAT_WAIT_STEP_S)
    return busy_twiml()

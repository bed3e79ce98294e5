"""Direct outbound calls (``POST /api/v1/calls``): prepare the call, find a free worker, dial.

Capacity is found in two ways, in order: an atomic claim of an idle worker of ``FLEET_POOL``
registered in Redis (`ori_contracts.allocation`, the Kubernetes path), then the seed's way:
poll every ``FLEET_URLS`` entry's ``/health`` and try the hosts with the most free slots first.
The chosen worker gets ``POST /livekit/dialout`` (`LiveKitDialoutRequest`) with the fleet
secret: it creates the call's room, dials the number through LiveKit SIP and answers once the
callee answers. A worker that refuses before dialling (409 busy, 503 no LiveKit, 422 no SIP
trunk, unreachable) is skipped for the next one; a dial that was tried and failed (502: busy,
no answer, rejected) ends the request with 502, since dialling again elsewhere would ring the
callee twice (the worker delivers the call's ``failed`` result). With no worker taking the
call it is marked ``not_placed`` and the request answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import httpx
from redis.asyncio import Redis

from ori_backend.db import Db
from ori_backend.errors import BadGateway, ServiceUnavailable
from ori_backend.repositories import calls as calls_repo
from ori_backend.schemas.calls import CallCreate
from ori_backend.schemas.common import Principal
from ori_backend.services import bots
from ori_backend.services.capacity import Claimed, claim_worker, release_worker
from ori_backend.services.runtime_config import new_call_doc
from ori_backend.settings import BackendSettings
from ori_contracts.ids import new_call_id
from ori_contracts.runtime_config import Contact
from ori_contracts.wire import LIVEKIT_DIALOUT_PATH, LiveKitDialoutRequest, bearer

__all__ = ["place_call"]

HEALTH_TIMEOUT_S: Final = 2.0
DIALOUT_TIMEOUT_S: Final = 60.0
"""A dial-out answers once the callee answers: up to its ringing timeout (30 s) and setup."""


async def place_call(
    db: Db, redis: Redis, settings: BackendSettings, principal: Principal, body: CallCreate
) -> dict[str, Any]:
    """Prepare and place one outbound call.

    Raises:
        NotFound: The bot is not in the workspace.
        ServiceUnavailable: No worker is free (or no fleet is configured).
    """
    if settings.voxcore_secret is None:
        raise ServiceUnavailable("direct calls need VOXCORE_SECRET to ask workers to dial")
    bot = await bots.get(db, principal.workspace_id, body.bot_id)
    call_id = new_call_id()
    contact = body.contact or Contact(id=f"direct-{call_id}", phone=body.to_number)
    doc = new_call_doc(
        call_id=call_id,
        workspace_id=principal.workspace_id,
        bot_id=bot["_id"],
        bot_version=bot["version"],
        campaign_id=None,
        contact_id=contact.id,
        contact=contact.model_dump(mode="json"),
        direction="outbound",
        telephony="livekit",
        from_number=body.from_number,
        to_number=body.to_number,
        placed_by=principal.actor,
    )
    await calls_repo.insert_if_absent(db, doc)
    request = LiveKitDialoutRequest(
        call_id=call_id, to_number=body.to_number, from_number=body.from_number
    )
    secret = settings.voxcore_secret.get_secret_value()
    refusals: list[str] = []
    claim = await claim_worker(redis, settings.fleet_pool, call_id)
    async with httpx.AsyncClient() as http:
        for url in await _candidates(claim, settings, http):
            answer = await _dial_out(http, url, request, secret)
            if answer is not None and answer.is_success:
                return {"id": call_id, "status": "created", "worker": url}
            if answer is not None and answer.status_code == 502:
                raise BadGateway(f"the call could not be placed: {_detail(answer)}")
            refusals.append(f"{url}: {_detail(answer)}")
            if claim is not None and url == claim.url:
                await release_worker(redis, settings.fleet_pool, claim, call_id)
    await calls_repo.mark_not_placed(db, call_id)
    tried = f" (refused: {'; '.join(refusals)})" if refusals else ""
    raise ServiceUnavailable(
        f"no worker is free to take the call; try again shortly{tried}",
        headers={"Retry-After": "5"},
    )


async def _candidates(
    claim: Claimed | None, settings: BackendSettings, http: httpx.AsyncClient
) -> list[str]:
    urls = [claim.url] if claim is not None else []
    hosts = await asyncio.gather(*(_free_slots(http, url) for url in settings.fleet_urls))
    urls += [url for free, url in sorted(hosts, key=lambda h: -h[0]) if free > 0]
    return urls


async def _free_slots(http: httpx.AsyncClient, url: str) -> tuple[int, str]:
    try:
        answer = await http.get(f"{url.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S)
        free = answer.json().get("free", 0)
    except (httpx.HTTPError, ValueError, AttributeError):
        return 0, url
    return (free if isinstance(free, int) else 0), url


async def _dial_out(
    http: httpx.AsyncClient, url: str, request: LiveKitDialoutRequest, secret: str
) -> httpx.Response | None:
    """The worker's answer to the dial-out, or None when it could not be reached."""
    try:
        return await http.post(
            f"{url.rstrip('/')}{LIVEKIT_DIALOUT_PATH}",
            json=request.model_dump(mode="json", exclude_none=True),
            headers=bearer(secret),
            timeout=DIALOUT_TIMEOUT_S,
        )
    except httpx.HTTPError:
        return None


def _detail(answer: httpx.Response | None) -> str:
    """What a worker said, in a sentence: its error detail, else its status."""
    if answer is None:
        return "unreachable"
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, dict):
        detail = detail.get("error")
    return f"{answer.status_code} {detail}" if isinstance(detail, str) else str(answer.status_code)

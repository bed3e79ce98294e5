"""LiveKit entry points. Thin edges: check, hold a slot, start the call in its room, answer.

| Route | Caller | What happens |
|---|---|---|
| ``POST /attach`` | dialler | the callee is in the room already; the bot joins it |
| ``POST /livekit/dispatch`` | LiveKit webhook | a SIP caller joined a room; the bot joins it |
| ``POST /livekit/dialout`` | backend | the worker makes the room, dials; the bot joins on answer |
| ``POST /livekit/widget`` | backend, console | a room, a browser token, the bot waiting in it |

A call holds a slot from the request until its result is in the outbox (409 when busy or
draining, as on the media routes), and runs in the background
(:mod:`ori_worker.livekit_runner`). Without ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and
``LIVEKIT_API_SECRET`` these routes answer 503.

The LiveKit SDK (about 12 MB resident with its protobuf and JWT modules) is imported by the
handlers, not here: a worker that only takes carrier media streams never loads it, and a
worker configured for LiveKit loads it before its first call (:func:`ori_worker.app`'s
prewarm).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from ori_contracts import CallDirection, FailureReason, RuntimeConfig, new_call_id
from ori_contracts.allocation import InvalidCallToken
from ori_contracts.wire import (
    ATTACH_PATH,
    CALL_ID_HEADER,
    CALL_TOKEN_HEADER,
    LIVEKIT_DIALOUT_PATH,
    LIVEKIT_DISPATCH_PATH,
    LIVEKIT_WIDGET_PATH,
    AttachRequest,
    ConfigRequest,
    LiveKitCallStarted,
    LiveKitDialoutRequest,
    LiveKitWidgetRequest,
    LiveKitWidgetSession,
)
from ori_worker import call_control, metrics
from ori_worker.call import fetch_config
from ori_worker.config_client import ConfigError, ConfigSource
from ori_worker.handover import hand_over
from ori_worker.registration import admission_refusal
from ori_worker.result import CallFacts, call_result, failure_before_config
from ori_worker.slots import NoFreeSlot

if TYPE_CHECKING:
    from ori_worker.app import WorkerRuntime
    from ori_worker.livekit_calls import LiveKitAccess

log = logging.getLogger(__name__)
router = APIRouter(tags=["livekit"])


def _runtime(request: Request) -> WorkerRuntime:
    runtime: WorkerRuntime = request.app.state.runtime
    return runtime


def _check_secret(runtime: WorkerRuntime, authorization: str, call_id: str | None = None) -> None:
    """401 unless ``authorization`` bears the shared secret or ``call_id``'s per-call token."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        if hmac.compare_digest(token.encode(), runtime.services.secret.encode()):
            return
        if call_id is not None:
            with contextlib.suppress(InvalidCallToken):
                runtime.verify_call_token(token, call_id)
                return
    raise HTTPException(401, "missing or wrong VOXCORE_SECRET bearer token")


def _check_call_token(runtime: WorkerRuntime, call_id: str | None, token: str | None) -> None:
    """401 unless ``token`` is ``call_id``'s per-call token for this worker."""
    try:
        runtime.verify_call_token(token or "", call_id or "")
    except InvalidCallToken as exc:
        raise HTTPException(401, f"per-call token refused: {exc}") from exc


def _refuse_if_busy(runtime: WorkerRuntime) -> None:
    if runtime.slots.free == 0:
        reason = "draining" if runtime.slots.draining else "all call slots are busy"
        metrics.CALLS_REFUSED.labels("busy").inc()
        raise HTTPException(409, f"busy: {reason}")


def _access(runtime: WorkerRuntime) -> LiveKitAccess:
    from ori_worker.livekit_calls import LiveKitAccess, LiveKitNotConfigured

    try:
        return LiveKitAccess.from_settings(runtime.settings)
    except LiveKitNotConfigured as exc:
        raise HTTPException(503, str(exc)) from exc


async def _hold(runtime: WorkerRuntime, call_id: str) -> None:
    """Take a slot for ``call_id`` and admit it in the registration, or answer 409."""
    try:
        runtime.slots.acquire(call_id)
    except NoFreeSlot as exc:
        metrics.CALLS_REFUSED.labels("busy").inc()
        raise HTTPException(409, f"busy: {exc}") from exc
    refusal = await admission_refusal(runtime.registration, call_id)
    if refusal is not None:
        runtime.slots.release(call_id)
        metrics.CALLS_REFUSED.labels(refusal.split(":")[0]).inc()
        raise HTTPException(409, refusal)


def _started(facts: CallFacts) -> LiveKitCallStarted:
    return LiveKitCallStarted(
        call_id=facts.call_id,
        room=facts.leg.stream_id,
        participant_identity=facts.leg.parameters.get("livekit_identity"),
    )


@router.post(ATTACH_PATH, status_code=202)
async def attach(
    body: AttachRequest, request: Request, authorization: str = Header("")
) -> LiveKitCallStarted:
    """The dialler hands over an answered call: the bot joins its room.

    401 without ``VOXCORE_SECRET``, 409 when busy or draining, 503 without LiveKit settings,
    404 when the room has no such participant, 502 when LiveKit cannot be asked.
    """
    from livekit import api

    from ori_worker.livekit_calls import pick_caller
    from ori_worker.livekit_runner import LIVEKIT_ERRORS, start_room_call

    runtime = _runtime(request)
    _check_secret(runtime, authorization)
    _refuse_if_busy(runtime)
    access = _access(runtime)
    await _hold(runtime, body.call_id)
    try:
        async with access.client() as lk:
            answer = await lk.room.list_participants(api.ListParticipantsRequest(room=body.room))
        caller = pick_caller(list(answer.participants), body.participant_identity)
        if caller is None:
            who = body.participant_identity or "caller"
            raise HTTPException(404, f"room {body.room} has no {who} to talk to")
        rate = runtime.settings.audio_sample_rate
        leg = caller.leg(body.room, outbound=True, sample_rate_hz=rate)
        facts = CallFacts(
            body.call_id, None, CallDirection.OUTBOUND, leg, runtime.worker_id, datetime.now(UTC)
        )
        start_room_call(runtime, access, facts)
    except LIVEKIT_ERRORS as exc:
        runtime.slots.release(body.call_id)
        raise HTTPException(502, f"LiveKit could not be asked about the room: {exc}") from exc
    except BaseException:
        runtime.slots.release(body.call_id)
        raise
    return _started(facts)


@router.post(LIVEKIT_DISPATCH_PATH, status_code=202, response_model=None)
async def dispatch(
    request: Request,
    authorization: str = Header(""),
    call_id: str | None = Header(None, alias=CALL_ID_HEADER),
    call_token: str | None = Header(None, alias=CALL_TOKEN_HEADER),
) -> LiveKitCallStarted | JSONResponse:
    """LiveKit's webhook: a SIP caller who joined a room gets the bot its dispatch rule names.

    Straight from LiveKit, or forwarded by the backend (`/api/v1/inbound/livekit`) after it
    claimed this worker, with the call's id and per-call token in ``X-Ori-Call-Id`` and
    ``X-Ori-Call-Token``. 401 for an event this LiveKit did not sign, or a token that is not
    this call's on this worker (or none, with ``REQUIRE_CALL_TOKEN``); any other event (or
    participant) answers 200 with why it starts nothing; 409 when busy, 503 without LiveKit
    settings.
    """
    from ori_worker.livekit_calls import NotForUs, inbound_call
    from ori_worker.livekit_runner import room_busy, start_room_call

    runtime = _runtime(request)
    access = _access(runtime)
    body = (await request.body()).decode(errors="replace")
    try:
        event = access.webhook_receiver().receive(body, authorization)
    except Exception as exc:  # the receiver raises bare Exceptions, JWT and JSON errors
        raise HTTPException(401, f"not a webhook signed by this LiveKit: {exc}") from exc
    try:
        call = inbound_call(event)
        if room_busy(call.room):
            raise NotForUs(f"room {call.room} has its bot already")
    except NotForUs as exc:
        return JSONResponse({"ignored": str(exc)})
    if call_id is not None or call_token is not None or runtime.settings.require_call_token:
        _check_call_token(runtime, call_id, call_token)
    _refuse_if_busy(runtime)
    call_id = call_id or new_call_id()
    await _hold(runtime, call_id)
    rate = runtime.settings.audio_sample_rate
    leg = call.caller.leg(call.room, outbound=False, sample_rate_hz=rate)
    facts = CallFacts(
        call_id, call.bot_id, CallDirection.INBOUND, leg, runtime.worker_id, datetime.now(UTC)
    )
    start_room_call(runtime, access, facts)
    log.info("inbound SIP call in room %s", call.room, extra={"call_id": call_id})
    return _started(facts)


@router.post(LIVEKIT_WIDGET_PATH, status_code=201)
async def widget(
    body: LiveKitWidgetRequest, request: Request, authorization: str = Header("")
) -> LiveKitWidgetSession:
    """A browser call: a room with the bot waiting in it, and the browser's token to join it.

    401 without ``VOXCORE_SECRET`` (or the call's per-call token), 409 when busy, 503 without
    LiveKit settings, 502 when the room cannot be created.
    """
    from livekit import api

    from ori_worker.livekit_calls import CALLER_TOKEN_TTL, ROOM_EMPTY_TIMEOUT_S, room_for
    from ori_worker.livekit_runner import LIVEKIT_ERRORS, livekit_facts, start_room_call

    runtime = _runtime(request)
    _check_secret(runtime, authorization, body.call_id)
    _refuse_if_busy(runtime)
    access = _access(runtime)
    call_id = body.call_id or new_call_id()
    room, identity = room_for(call_id), f"web-{uuid.uuid4().hex[:12]}"
    await _hold(runtime, call_id)
    try:
        async with access.client() as lk:
            await lk.room.create_room(
                api.CreateRoomRequest(name=room, empty_timeout=ROOM_EMPTY_TIMEOUT_S)
            )
    except LIVEKIT_ERRORS as exc:
        runtime.slots.release(call_id)
        raise HTTPException(502, f"LiveKit could not create the room: {exc}") from exc
    token = access.token(room, identity, ttl=CALLER_TOKEN_TTL, name=body.participant_name)
    outbound = body.call_id is not None
    facts = livekit_facts(
        runtime, call_id, bot_id=body.bot_id, outbound=outbound, room=room, identity=identity
    )
    start_room_call(runtime, access, facts)
    return LiveKitWidgetSession(
        url=access.url,
        room=room,
        token=token,
        call_id=call_id,
        participant_identity=identity,
        expires_at=datetime.now(UTC) + CALLER_TOKEN_TTL,
    )


@router.post(LIVEKIT_DIALOUT_PATH)
async def dialout(
    body: LiveKitDialoutRequest, request: Request, authorization: str = Header("")
) -> LiveKitCallStarted:
    """Dial ``to_number`` through LiveKit SIP; once the callee answers, the bot joins the room.

    Answers once the callee answers (within ``ringing_timeout_s``). 401, 409 and 503 as the
    other routes, 422 without a SIP trunk, and 502 when the call cannot be placed or is not
    answered, its ``failed``/``busy``/``no_answer``/``rejected`` result already in the outbox.
    """
    from ori_worker.livekit_calls import room_for
    from ori_worker.livekit_runner import livekit_facts, start_room_call

    runtime = _runtime(request)
    _check_secret(runtime, authorization, body.call_id)
    _refuse_if_busy(runtime)
    access = _access(runtime)
    trunk = body.sip_trunk_id or access.trunk_id
    if trunk is None:
        raise HTTPException(422, "no SIP trunk: set LIVEKIT_TRUNK_ID or the request's sip_trunk_id")
    await _hold(runtime, body.call_id)
    room = body.room or room_for(body.call_id)
    facts = livekit_facts(
        runtime,
        body.call_id,
        bot_id=None,
        outbound=True,
        room=room,
        identity=f"sip-{body.call_id}",
        from_number=body.from_number,
        to_number=body.to_number,
    )
    cfg: RuntimeConfig | None = None
    try:
        cfg = await fetch_config(facts, runtime.services)
        sip_call_id = await _dial(access, body, trunk, room, f"sip-{body.call_id}")
    except BaseException as exc:
        detail = await _not_placed(runtime, access, facts, cfg, exc)
        if detail is None:
            raise
        raise HTTPException(502, detail) from exc
    facts = replace(facts, leg=replace(facts.leg, carrier_call_id=sip_call_id or None))
    start_room_call(runtime, access, facts, replace(runtime.services, config_source=_fixed(cfg)))
    return _started(facts)


async def _dial(
    access: LiveKitAccess, body: LiveKitDialoutRequest, trunk: str, room: str, identity: str
) -> str:
    """Create the room and dial into it; returns LiveKit's SIP call id once answered."""
    from livekit import api

    from ori_worker.livekit_calls import ROOM_EMPTY_TIMEOUT_S

    request = api.CreateSIPParticipantRequest(
        sip_trunk_id=trunk,
        sip_call_to=body.to_number,
        room_name=room,
        participant_identity=identity,
        wait_until_answered=True,
    )
    if body.from_number:
        request.sip_number = body.from_number
    request.ringing_timeout.FromTimedelta(timedelta(seconds=body.ringing_timeout_s))
    async with access.client() as lk:
        await lk.room.create_room(
            api.CreateRoomRequest(name=room, empty_timeout=ROOM_EMPTY_TIMEOUT_S)
        )
        info = await lk.sip.create_sip_participant(request)
    return str(info.sip_call_id)


async def _not_placed(
    runtime: WorkerRuntime,
    access: LiveKitAccess,
    facts: CallFacts,
    cfg: RuntimeConfig | None,
    exc: BaseException,
) -> dict[str, str] | None:
    """Hand over the one result of a dial-out that never ran, close its room, free its slot.

    Returns:
        The 502 answer's detail, or None when ``exc`` is unexpected (it is re-raised).
    """
    from ori_worker.livekit_calls import dial_failure
    from ori_worker.livekit_runner import LIVEKIT_ERRORS, delete_room

    now, expected = datetime.now(UTC), isinstance(exc, (ConfigError, *LIVEKIT_ERRORS))
    if isinstance(exc, ConfigError):
        result = failure_before_config(facts, exc.reason, str(exc), None, now)
    else:
        end = (
            dial_failure(exc)
            if isinstance(exc, LIVEKIT_ERRORS)
            else call_control.failed(FailureReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        )
        if cfg is None:
            detail = end.detail or str(end.outcome)
            reason = FailureReason.CONFIG_UNAVAILABLE
            result = failure_before_config(facts, reason, f"internal error: {detail}", None, now)
        else:
            result = call_result(facts, cfg, end, None, now, None)
    metrics.observe_result(result)
    try:
        await hand_over(runtime, result)
        await delete_room(access, facts.leg.stream_id, facts.call_id)
    finally:
        runtime.slots.release(facts.call_id)
    if not expected:
        return None
    why = result.failure_detail or f"the call ended {result.outcome}"
    return {"error": f"dial-out not placed: {why}", "outcome": str(result.outcome)}


def _fixed(cfg: RuntimeConfig) -> ConfigSource:
    """The config the dial-out fetched before dialling, for the call it placed."""

    async def source(_request: ConfigRequest) -> RuntimeConfig:
        return cfg

    return source

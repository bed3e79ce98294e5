"""Call entry points. Thin edges: admit the call, read the carrier's handshake, run the call.

Every media route converges on :func:`ori_worker.call.run_call`:

| Route | Protocol |
|---|---|
| ``WS /ws/{bot_id}`` | generic: 8 kHz 16-bit PCM (``ori_worker.serializers``) |
| ``WS /twilio/{bot_id}`` | Twilio Media Streams (8 kHz mu-law) |
| ``WS /exotel/{bot_id}`` | Exotel Voicebot (8 kHz PCM) |
| ``WS /plivo/{bot_id}`` | Plivo audio streams |
| ``WS /telnyx/{bot_id}`` | Telnyx media streaming |

The LiveKit entry points (``/attach``, ``/livekit/*``) are in ``ori_worker.livekit_routes``.

A busy or draining worker refuses a new call before accepting its WebSocket, with HTTP 409
and a JSON reason. A registered worker then admits the call in Redis (``allocation.admit``):
a call that reached it without a claim makes it busy there too, and one Redis refuses (the
worker was claimed for another call, is draining or retired, or the call belongs to another
worker) is closed with code 1013 (try again later) and the reason. An outbound call names
its Ori ``call_id`` (and, when routed through the allocator, its ``token``) as query
parameters or carrier custom parameters. When the bot ends the call, the carrier side
(:mod:`ori_worker.carrier_control`, wrapped around the serializer) transfers or hangs it up
just before the stream closes.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ori_contracts import CallDirection, TelephonyProvider, new_call_id
from ori_contracts.allocation import InvalidCallToken
from ori_contracts.ids import ID_PATTERN
from ori_worker import metrics
from ori_worker.call import run_call
from ori_worker.call_control import CallControl
from ori_worker.carrier_control import CarrierEndSerializer, media_carrier
from ori_worker.handover import hand_over
from ori_worker.registration import admission_refusal
from ori_worker.result import CallFacts
from ori_worker.serializers import TolerantSerializer
from ori_worker.slots import PENDING_PREFIX, NoFreeSlot
from ori_worker.telephony import CarrierLeg, HandshakeError, make_serializer, read_handshake
from ori_worker.twilio_calls import TwilioAccess

if TYPE_CHECKING:
    from ori_worker.app import WorkerRuntime

log = logging.getLogger(__name__)
router = APIRouter()

_ID = re.compile(ID_PATTERN)
TRY_AGAIN_LATER = 1013
"""WebSocket close code for a call Redis would not admit (RFC 6455 registry: try again later)."""


def _runtime(websocket: WebSocket) -> WorkerRuntime:
    runtime: WorkerRuntime = websocket.app.state.runtime
    return runtime


async def _refuse(websocket: WebSocket, status: int, reason: str) -> None:
    metrics.CALLS_REFUSED.labels(reason.split(":")[0]).inc()
    await websocket.send_denial_response(JSONResponse({"error": reason}, status_code=status))


def _call_id(websocket: WebSocket, leg: CarrierLeg) -> str:
    candidate = websocket.query_params.get("call_id") or leg.call_id
    return candidate if candidate and _ID.fullmatch(candidate) else new_call_id()


def _check_token(
    runtime: WorkerRuntime, websocket: WebSocket, leg: CarrierLeg, call_id: str
) -> None:
    token = websocket.query_params.get("token") or leg.parameters.get("token")
    if not token:
        if runtime.settings.require_call_token:
            raise InvalidCallToken("a per-call token is required")
        return
    runtime.verify_call_token(str(token), call_id)


async def serve_media(websocket: WebSocket, bot_id: str, provider: TelephonyProvider) -> None:
    """Admit one call on ``websocket`` (or refuse it), run it, and hand its result to the outbox."""
    runtime = _runtime(websocket)
    slot = f"{PENDING_PREFIX}{uuid.uuid4().hex}"
    try:
        runtime.slots.acquire(slot)
    except NoFreeSlot as exc:
        await _refuse(websocket, 409, f"busy: {exc}")
        return
    try:
        started = datetime.now(UTC)
        await websocket.accept()
        try:
            leg = await read_handshake(provider, websocket.receive_text)
        except (HandshakeError, WebSocketDisconnect, KeyError) as exc:
            log.warning("%s stream refused: %s", provider, exc)
            if websocket.client_state is WebSocketState.CONNECTED:
                await websocket.close(code=1002, reason="bad handshake")
            return
        call_id = _call_id(websocket, leg)
        try:
            _check_token(runtime, websocket, leg, call_id)
        except InvalidCallToken as exc:
            log.warning("call token refused: %s", exc, extra={"call_id": call_id})
            metrics.CALLS_REFUSED.labels("token").inc()
            await websocket.close(code=1008, reason=str(exc))
            return
        try:
            runtime.slots.rename(slot, call_id)
        except NoFreeSlot:
            await websocket.close(code=1008, reason=f"call {call_id} is already in progress")
            return
        slot = call_id
        refusal = await admission_refusal(runtime.registration, call_id)
        if refusal is not None:
            metrics.CALLS_REFUSED.labels(refusal.split(":")[0]).inc()
            await websocket.close(code=TRY_AGAIN_LATER, reason=refusal)
            return
        await _run(runtime, websocket, leg, call_id, bot_id, started)
    finally:
        runtime.slots.release(slot)


async def _run(
    runtime: WorkerRuntime,
    websocket: WebSocket,
    leg: CarrierLeg,
    call_id: str,
    bot_id: str,
    started: datetime,
) -> None:
    control = CallControl()
    twilio = TwilioAccess.from_settings(runtime.settings)
    carrier = media_carrier(leg, control, runtime.services.http, twilio)
    serializer = TolerantSerializer(
        CarrierEndSerializer(make_serializer(leg), carrier),
        lambda _: metrics.MALFORMED_MEDIA.labels(str(leg.provider)).inc(),
    )
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
            allowed_origins=[],
        ),
    )
    outbound = leg.call_id is not None or "call_id" in websocket.query_params
    facts = CallFacts(
        call_id=call_id,
        bot_id=bot_id if _ID.fullmatch(bot_id) else None,
        direction=CallDirection.OUTBOUND if outbound else CallDirection.INBOUND,
        leg=leg,
        worker_id=runtime.worker_id,
        started_at=started,
    )
    await hand_over(runtime, await run_call(facts, transport, runtime.services, control))


@router.websocket("/ws/{bot_id}")
async def generic_stream(websocket: WebSocket, bot_id: str) -> None:
    """A generic 8 kHz PCM media stream for ``bot_id``."""
    await serve_media(websocket, bot_id, TelephonyProvider.WEBSOCKET)


@router.websocket("/twilio/{bot_id}")
async def twilio_stream(websocket: WebSocket, bot_id: str) -> None:
    """A Twilio Media Stream for ``bot_id``."""
    await serve_media(websocket, bot_id, TelephonyProvider.TWILIO)


@router.websocket("/exotel/{bot_id}")
async def exotel_stream(websocket: WebSocket, bot_id: str) -> None:
    """An Exotel Voicebot stream for ``bot_id``."""
    await serve_media(websocket, bot_id, TelephonyProvider.EXOTEL)


@router.websocket("/plivo/{bot_id}")
async def plivo_stream(websocket: WebSocket, bot_id: str) -> None:
    """A Plivo audio stream for ``bot_id``."""
    await serve_media(websocket, bot_id, TelephonyProvider.PLIVO)


@router.websocket("/telnyx/{bot_id}")
async def telnyx_stream(websocket: WebSocket, bot_id: str) -> None:
    """A Telnyx media stream for ``bot_id``."""
    await serve_media(websocket, bot_id, TelephonyProvider.TELNYX)

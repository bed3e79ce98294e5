"""Running one call in a LiveKit room, in the background, until its result is handed over.

The call runs the same pipeline and finalisation as a carrier call
(:func:`ori_worker.call.run_call`) on :class:`~ori_worker.livekit_transport.CallerRoomTransport`.
When the bot leaves the room (the call ended) the worker deletes the room, which hangs up a
SIP caller and disconnects a browser, before the call's finalisation runs. A transfer is made
just before the bot leaves, once the announcement has played: LiveKit SIP transfers the
caller (``TransferSIPParticipant``) and the room is deleted after it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from livekit import api
from livekit.protocol import sip
from pipecat.transports.livekit.transport import LiveKitParams

from ori_contracts import CallDirection, TelephonyProvider
from ori_worker.call import CallServices, run_call
from ori_worker.call_control import CallControl, CarrierError
from ori_worker.carrier_control import CallCarrier
from ori_worker.handover import hand_over
from ori_worker.livekit_calls import LiveKitAccess, livekit_leg
from ori_worker.livekit_transport import CallerRoomTransport
from ori_worker.result import CallFacts

if TYPE_CHECKING:
    from ori_worker.app import WorkerRuntime

log = logging.getLogger(__name__)

LIVEKIT_ERRORS = (api.ServerError, aiohttp.ClientError, OSError, TimeoutError)
"""What a LiveKit server-API call raises when the server refuses or cannot be reached."""
ROOM_CLOSE_TIMEOUT_S = 5.0
TRANSFER_RINGING_TIMEOUT_S = 8
"""How long LiveKit SIP lets a transfer target ring; the call's goodbye grace bounds it too."""
TRANSFER_TIMEOUT_S = TRANSFER_RINGING_TIMEOUT_S + 4.0

_calls: dict[str, asyncio.Task[None]] = {}
"""Calls running in this process, by room."""


def room_busy(room: str) -> bool:
    """Whether a call of this worker runs in ``room`` already."""
    return room in _calls


def livekit_facts(
    runtime: WorkerRuntime,
    call_id: str,
    *,
    bot_id: str | None,
    outbound: bool,
    room: str,
    identity: str | None,
    from_number: str | None = None,
    to_number: str | None = None,
    carrier_call_id: str | None = None,
) -> CallFacts:
    """What is known about a LiveKit call before its config, at ``AUDIO_SAMPLE_RATE``."""
    return CallFacts(
        call_id=call_id,
        bot_id=bot_id,
        direction=CallDirection.OUTBOUND if outbound else CallDirection.INBOUND,
        leg=livekit_leg(
            room,
            identity,
            sample_rate_hz=runtime.settings.audio_sample_rate,
            carrier_call_id=carrier_call_id,
            from_number=from_number,
            to_number=to_number,
        ),
        worker_id=runtime.worker_id,
        started_at=datetime.now(UTC),
    )


def start_room_call(
    runtime: WorkerRuntime,
    access: LiveKitAccess,
    facts: CallFacts,
    services: CallServices | None = None,
) -> None:
    """Run the call in the background; from now on it owns the slot held for ``facts.call_id``.

    Args:
        runtime: The worker's shared state.
        access: The LiveKit server.
        facts: The call; ``facts.leg.stream_id`` is its room.
        services: Call services, when not the worker's own (a config fetched already).
    """
    room = facts.leg.stream_id
    task = asyncio.create_task(
        _run_in_room(runtime, access, facts, services or runtime.services),
        name=f"livekit-call-{facts.call_id}",
    )
    _calls[room] = task
    task.add_done_callback(lambda _: _calls.pop(room, None))


async def _run_in_room(
    runtime: WorkerRuntime, access: LiveKitAccess, facts: CallFacts, services: CallServices
) -> None:
    room = facts.leg.stream_id
    closed = asyncio.Event()

    async def hang_up(*_: object) -> None:
        if not closed.is_set():
            closed.set()
            await delete_room(access, room, facts.call_id)

    try:
        transport = CallerRoomTransport(
            access.url,
            access.bot_token(room, facts.call_id),
            room,
            caller_identity=facts.leg.parameters.get("livekit_identity"),
            params=LiveKitParams(audio_in_enabled=True, audio_out_enabled=True),
        )
        control = CallControl()
        carrier = room_carrier(access, room, transport, control)

        async def leaving(*_: object) -> None:  # what the bot said has played; still in the room
            await carrier.media_closing()

        transport.add_event_handler("on_before_disconnect", leaving)
        transport.add_event_handler("on_disconnected", hang_up)  # the bot left: hang up now
        await hand_over(runtime, await run_call(facts, transport, services, control))
    finally:
        await hang_up()
        runtime.slots.release(facts.call_id)


async def delete_room(access: LiveKitAccess, room: str, call_id: str) -> None:
    """Close ``room``, hanging up whoever is in it; a failure is logged, never raised."""
    try:
        async with access.client() as lk:
            request = api.DeleteRoomRequest(room=room)
            await asyncio.wait_for(lk.room.delete_room(request), ROOM_CLOSE_TIMEOUT_S)
    except LIVEKIT_ERRORS as exc:
        log.warning("could not close room %s: %s", room, exc, extra={"call_id": call_id})


def room_carrier(
    access: LiveKitAccess, room: str, transport: CallerRoomTransport, control: CallControl
) -> CallCarrier:
    """The carrier side of a LiveKit call: LiveKit SIP transfers; deleting the room hangs up."""

    async def transfer(target: str) -> None:
        identity = transport.caller_identity
        if identity is None:
            raise CarrierError("nobody to transfer: the caller never joined the room")
        await transfer_participant(access, room, identity, target)

    return CallCarrier(control, TelephonyProvider.LIVEKIT, transfer=transfer)


async def transfer_participant(
    access: LiveKitAccess, room: str, identity: str, target: str
) -> None:
    """Transfer the SIP participant ``identity`` of ``room`` to ``target`` (E.164 or SIP URI).

    Raises:
        CarrierError: LiveKit refused (no SIP service, not a SIP participant, the target
            rejected or did not answer) or could not be reached.
    """
    request = api.TransferSIPParticipantRequest(
        room_name=room,
        participant_identity=identity,
        transfer_to=target if target.startswith(("sip:", "sips:")) else f"tel:{target}",
    )
    request.ringing_timeout.seconds = TRANSFER_RINGING_TIMEOUT_S
    try:
        async with access.client() as lk:
            answer = await asyncio.wait_for(
                lk.sip.transfer_sip_participant(request, timeout=TRANSFER_TIMEOUT_S),
                TRANSFER_TIMEOUT_S,
            )
    except api.ServerError as exc:
        code = exc.sip_status_code if isinstance(exc, api.SipCallError) else None
        said = f" (SIP {code})" if code is not None else ""
        detail = f"{exc.code}: {exc.message}{said}"
        raise CarrierError(f"LiveKit refused the transfer: {detail}") from exc
    except LIVEKIT_ERRORS as exc:
        detail = f"{type(exc).__name__}: {exc}"
        raise CarrierError(f"LiveKit could not be reached for the transfer: {detail}") from exc
    if answer.status == sip.SIPTransferStatus.STS_TRANSFER_FAILED:
        reason = sip.SIPTransferReason.Name(answer.reason)
        status = answer.sip_status
        said = f" (SIP {status.code} {status.status})" if status.code else ""
        raise CarrierError(f"LiveKit SIP could not transfer the call: {reason}{said}")

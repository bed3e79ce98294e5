"""Transferring a LiveKit SIP call: the worker asks LiveKit SIP (``TransferSIPParticipant``)
once the announcement has played. The test livekit-server has no SIP service, so the transfer
is refused, and the result says so."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from livekit import api

from ori_contracts import (
    CallOutcome,
    EndedBy,
    SttConfig,
    SttProvider,
    TransferStatus,
    new_call_id,
)
from ori_contracts.testing import DEMO_CLINIC_NUMBER
from ori_e2e.servers import LiveKitServer
from ori_worker.sim.caller import Line, Script
from ori_worker.sim.livekit_call import LiveKitCall

from .conftest import CALLER_LINES, BookingEndpoint, WorkerFactory, offline_bot
from .test_livekit_calls import AUTH, livekit_env, one_result, rooms, sip_token

pytestmark = pytest.mark.integration

HUMAN = "Can I talk to a person please"


async def test_a_sip_transfer_livekit_cannot_make_is_failed_and_the_call_still_ends(
    worker_factory: WorkerFactory, booking: BookingEndpoint, livekit_server: LiveKitServer
) -> None:
    stt = SttConfig(provider=SttProvider.POCKETSPHINX, phrases=[*CALLER_LINES, HUMAN])
    worker = worker_factory(
        config=offline_bot(booking.url, stt=stt), extra_env=livekit_env(livekit_server)
    )
    call_id, room = new_call_id(), "transfer-room"
    token = sip_token(livekit_server, room, "callee")
    caller = LiveKitCall(livekit_server.url, token, Script((Line(HUMAN),)), call_id=call_id)
    running = asyncio.create_task(caller.run())
    async with api.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as lk:
        for _ in range(100):
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
            if listed.participants:
                break
            await asyncio.sleep(0.05)
    body = {"call_id": call_id, "room": room, "participant_identity": "callee"}
    async with httpx.AsyncClient(timeout=30) as http:
        started = await http.post(f"{worker.url}/attach", json=body, headers=AUTH)
    assert started.status_code == 202, started.text

    report = await running
    assert report.error is None and report.hung_up_by == "bot"
    result = await one_result(worker)
    assert (result.outcome, result.ended_by) == (CallOutcome.TRANSFERRED, EndedBy.BOT)
    transfer = result.transfer
    assert transfer is not None and transfer.target == DEMO_CLINIC_NUMBER
    assert transfer.status is TransferStatus.FAILED
    # LiveKit's own words: no SIP service answers the request.
    assert transfer.error == (
        "LiveKit refused the transfer: unavailable: twirp error unknown: no response from servers"
    )
    assert room not in await rooms(livekit_server)  # and the caller was hung up
    metrics = await asyncio.to_thread(worker.metrics)
    assert 'action="transfer",status="failed",telephony="livekit"} 1.0' in metrics

"""LiveKit calls against a real livekit-server: widget, SIP dispatch, attach and dial-out.

The caller is a real LiveKit participant (``ori_worker.sim.livekit_call``) speaking eSpeak NG
lines into the room and listening to the bot's track. livekit-server runs without Redis, so
it has no SIP service: a SIP caller is stood in for by a participant whose token says it is
one (kind ``sip`` and LiveKit SIP's attributes), and a dial-out is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import sys
import wave
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from livekit import api
from minio import Minio

from ori_contracts import (
    CallDirection,
    CallOutcome,
    EndedBy,
    FailureReason,
    TelephonyProvider,
    TranscriptRole,
    new_call_id,
)
from ori_contracts.wire import LIVEKIT_BOT_ATTRIBUTE, LiveKitWidgetSession
from ori_e2e.servers import LiveKitServer, S3Server, free_port, start_livekit
from ori_e2e.voice import SECRET, WorkerProcess
from ori_worker.sim.caller import CallReport, Line, Script
from ori_worker.sim.livekit_call import LiveKitCall

from .conftest import BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {SECRET}"}
GREETING = "Hi, this is Ava from Bright Smile Dental. Would you like to book your next visit?"
CALLER, TRUNK = "+15550001111", "+15550002222"


def livekit_env(server: LiveKitServer) -> dict[str, str]:
    return {
        "LIVEKIT_URL": server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": server.api_secret,
    }


def sip_token(server: LiveKitServer, room: str, identity: str, **attributes: str) -> str:
    """A token that joins ``room`` as LiveKit SIP's participant for a phone call would."""
    grants = api.VideoGrants(room_join=True, room=room)
    token = api.AccessToken(server.api_key, server.api_secret).with_identity(identity)
    token = token.with_kind("sip").with_ttl(timedelta(minutes=5)).with_grants(grants)
    sip = {"sip.phoneNumber": CALLER, "sip.trunkPhoneNumber": TRUNK, "sip.callID": "SCL_test1"}
    return token.with_attributes({**sip, **attributes}).to_jwt()


async def rooms(server: LiveKitServer) -> list[str]:
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
        answer = await lk.room.list_rooms(api.ListRoomsRequest())
    return [room.name for room in answer.rooms]


def recording(s3: S3Server, bucket: str, key: str) -> tuple[np.ndarray, int]:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    with wave.open(io.BytesIO(client.get_object(bucket, key).read())) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
        return frames, wav.getframerate()


def said(report: CallReport) -> None:
    """The caller heard the bot greet, and heard it answer each line."""
    assert report.error is None, report.error
    assert report.pickup_ms is not None, "the caller never heard the bot"
    assert all(turn.latency_ms is not None for turn in report.turns), report.as_dict()


async def one_result(worker: WorkerProcess) -> Any:
    result = await asyncio.to_thread(worker.wait_result, 30)
    await asyncio.sleep(1.0)  # a second result would have been written by now
    assert len(worker.pending_results()) == 1
    return result


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_a_widget_call_greets_answers_is_recorded_and_hangs_up(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    livekit_server: LiveKitServer,
    s3_server: S3Server,
    s3_bucket: str,
    http: httpx.AsyncClient,
) -> None:
    worker = worker_factory(config=offline_bot(booking.url), extra_env=livekit_env(livekit_server))
    answer = await http.post(
        f"{worker.url}/livekit/widget", json={"bot_id": "appointment-demo"}, headers=AUTH
    )
    assert answer.status_code == 201, answer.text
    session = LiveKitWidgetSession.model_validate(answer.json())
    assert session.url == livekit_server.url and session.room == f"ori-{session.call_id}"

    caller = LiveKitCall(session.url, session.token, Script((Line("Goodbye"),)))
    report = await caller.run()
    said(report)
    assert report.hung_up_by == "bot"  # the worker closed the room after the goodbye
    assert caller.heard_from == {f"ori-bot-{session.call_id}"}

    result = await one_result(worker)
    assert (result.call_id, result.telephony_provider) == (
        session.call_id,
        TelephonyProvider.LIVEKIT,
    )
    assert (result.outcome, result.ended_by) == (CallOutcome.COMPLETED, EndedBy.BOT)
    turns = [(t.role, t.text) for t in result.transcript if t.role is not TranscriptRole.TOOL]
    assert turns[:3] == [
        (TranscriptRole.ASSISTANT, GREETING),
        (TranscriptRole.USER, "goodbye"),
        (TranscriptRole.ASSISTANT, "Thanks for calling Bright Smile Dental. Goodbye!"),
    ]
    assert result.recording is not None and result.recording.sample_rate_hz == 16000
    frames, rate = recording(s3_server, s3_bucket, result.recording.object_key)
    assert rate == 16000
    user = next(t for t in result.transcript if t.role is TranscriptRole.USER)
    greeting = frames[: int(rate * (user.started_at_ms - 300) / 1000)]
    heard_ms = np.flatnonzero(np.abs(frames[:, 0]) > 1000)[0] * 1000 / rate
    assert abs(heard_ms - user.started_at_ms) < 150  # the transcript's clock is the recording's
    assert np.abs(greeting[:, 1]).max() > 1000 and np.abs(greeting[:, 0]).max() < 200
    assert np.abs(frames[:, 0]).astype(float).mean() > 20  # the caller's "goodbye"
    assert session.room not in await rooms(livekit_server)


def signed_sip_join(server: LiveKitServer, room: str) -> tuple[bytes, dict[str, str]]:
    """A LiveKit webhook body (a SIP caller joined ``room``) and its signed headers."""
    event = {"event": "participant_joined", "room": {"name": room},
             "participant": {"identity": f"sip-{room}", "kind": "SIP",
                             "attributes": {LIVEKIT_BOT_ATTRIBUTE: "front-desk"}}}  # fmt: skip
    body = json.dumps(event).encode()
    signed = api.AccessToken(server.api_key, server.api_secret).with_sha256(
        base64.b64encode(hashlib.sha256(body).digest()).decode()
    )
    return body, {"Authorization": signed.to_jwt()}


async def test_an_inbound_sip_call_is_dispatched_by_livekit_s_webhook(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/livekit/dispatch"
    server = start_livekit(tmp_path / "livekit", webhook_urls=[hook])
    try:
        inbound = offline_bot(booking.url, direction=CallDirection.INBOUND)
        worker = worker_factory(config=inbound, extra_env=livekit_env(server), port=port)
        token = sip_token(server, "did-room", "sip-caller", **{LIVEKIT_BOT_ATTRIBUTE: "front-desk"})
        script = Script((Line("What time do you open"),), hang_up_after_s=1.0)
        report = await LiveKitCall(server.url, token, script).run()
        said(report)
        assert report.hung_up_by == "caller"
        result = await one_result(worker)
        forged = await http.post(hook, content=b"{}", headers={"Authorization": "forged"})
        # Signed by LiveKit, but forwarded with a per-call token that is not this call's.
        body, headers = signed_sip_join(server, "did-room-2")
        headers |= {"X-Ori-Call-Id": new_call_id(), "X-Ori-Call-Token": "v1.0.not-a-token"}
        mistoken = await http.post(hook, content=body, headers=headers)
    finally:
        server.stop()
    assert (result.direction, result.from_number, result.to_number) == (
        CallDirection.INBOUND,
        CALLER,
        TRUNK,
    )
    assert (result.outcome, result.ended_by) == (CallOutcome.COMPLETED, EndedBy.CALLER)
    assert [t.text for t in result.transcript if t.role is TranscriptRole.USER] == [
        "what time do you open"
    ]
    assert forged.status_code == 401
    assert mistoken.status_code == 401 and "per-call token" in mistoken.json()["detail"]
    assert len(worker.pending_results()) == 1  # nothing started for it


async def test_a_worker_requiring_call_tokens_refuses_a_dispatch_without_one(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    livekit_server: LiveKitServer,
    http: httpx.AsyncClient,
) -> None:
    # REQUIRE_CALL_TOKEN (a fleet's workers): LiveKit's signature alone does not start a
    # call; it must come through whoever claimed the worker, with the call's token.
    inbound = offline_bot(booking.url, direction=CallDirection.INBOUND)
    env = {**livekit_env(livekit_server), "REQUIRE_CALL_TOKEN": "true"}
    worker = worker_factory(config=inbound, extra_env=env)
    body, headers = signed_sip_join(livekit_server, "did-room-3")
    answer = await http.post(f"{worker.url}/livekit/dispatch", content=body, headers=headers)
    assert answer.status_code == 401 and "per-call token" in answer.json()["detail"]
    health = (await http.get(f"{worker.url}/health")).json()
    assert health["busy"] == 0 and worker.pending_results() == []  # nothing started


async def test_attach_joins_the_answered_room_and_keeps_its_slot_rules(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    livekit_server: LiveKitServer,
    http: httpx.AsyncClient,
) -> None:
    worker = worker_factory(config=offline_bot(booking.url), extra_env=livekit_env(livekit_server))
    attach = f"{worker.url}/attach"
    call_id, room = new_call_id(), "dialler-room-1"
    body = {"call_id": call_id, "room": room, "participant_identity": "callee"}
    wrong = await http.post(attach, json=body, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    empty = await http.post(attach, json=body, headers=AUTH)
    assert empty.status_code == 404 and "callee" in empty.json()["detail"]

    # The dialler's callee answered: it is in the room before the worker is asked.
    token = sip_token(livekit_server, room, "callee")
    caller = LiveKitCall(livekit_server.url, token, Script((Line("Goodbye"),)), call_id=call_id)
    running = asyncio.create_task(caller.run())
    for _ in range(100):
        async with api.LiveKitAPI(
            livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
        ) as lk:
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
        if listed.participants:
            break
        await asyncio.sleep(0.05)
    started = await http.post(attach, json=body, headers=AUTH)
    assert started.status_code == 202, started.text
    assert started.json() == {"call_id": call_id, "room": room, "participant_identity": "callee"}
    busy = await http.post(attach, json={**body, "call_id": new_call_id()}, headers=AUTH)
    widget = await http.post(f"{worker.url}/livekit/widget", json={"bot_id": "b"}, headers=AUTH)
    assert (busy.status_code, widget.status_code) == (409, 409)
    assert busy.json()["detail"].startswith("busy")

    said(await running)
    assert caller.report.hung_up_by == "bot"
    result = await one_result(worker)
    assert (result.call_id, result.outcome, result.ended_by) == (
        call_id,
        CallOutcome.COMPLETED,
        EndedBy.BOT,
    )
    assert (result.from_number, result.to_number) == (TRUNK, CALLER)  # we called them
    assert (await asyncio.to_thread(worker.health))["free"] == 1


async def test_a_dial_out_without_a_sip_service_fails_clearly_with_one_result(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    livekit_server: LiveKitServer,
    http: httpx.AsyncClient,
) -> None:
    worker = worker_factory(config=offline_bot(booking.url), extra_env=livekit_env(livekit_server))
    dialout = f"{worker.url}/livekit/dialout"
    call_id = new_call_id()
    body = {"call_id": call_id, "to_number": "+15550003333"}
    no_trunk = await http.post(dialout, json=body, headers=AUTH)
    assert no_trunk.status_code == 422 and "LIVEKIT_TRUNK_ID" in no_trunk.text
    answer = await http.post(dialout, json={**body, "sip_trunk_id": "ST_test"}, headers=AUTH)
    assert answer.status_code == 502
    detail = answer.json()["detail"]
    assert detail["outcome"] == "failed" and "sip not connected" in detail["error"]

    result = await one_result(worker)
    assert (result.call_id, result.outcome, result.failure_reason) == (
        call_id,
        CallOutcome.FAILED,
        FailureReason.DIAL_ERROR,
    )
    assert result.timings.answered_at is None and result.to_number == "+15550003333"
    assert result.bot_id is not None  # the config was fetched before dialling
    assert "LiveKit refused the dial-out" in (result.failure_detail or "")
    assert (await asyncio.to_thread(worker.health))["free"] == 1
    assert f"ori-{call_id}" not in await rooms(livekit_server)


async def test_ori_sim_places_a_widget_call_over_livekit(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    livekit_server: LiveKitServer,
    tmp_path: Path,
) -> None:
    worker = worker_factory(config=offline_bot(booking.url), extra_env=livekit_env(livekit_server))
    report_path = tmp_path / "sim.json"
    argv = ["--url", worker.url, "--protocol", "livekit", "--line", "Goodbye"]
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ori_worker.sim", *argv, "--json", str(report_path),
        env={**os.environ, "VOXCORE_SECRET": SECRET},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(sim.communicate(), 60)
    assert sim.returncode == 0, output.decode()
    (call,) = json.loads(report_path.read_text())["calls"]
    assert call["protocol"] == "livekit" and call["pickup_ms"] is not None, call
    result = await one_result(worker)
    assert result.call_id == call["call_id"]
    assert result.telephony_provider == TelephonyProvider.LIVEKIT


async def test_ori_sim_over_livekit_needs_the_fleet_secret() -> None:
    argv = ["--url", "http://127.0.0.1:9", "--protocol", "livekit"]
    env = {k: v for k, v in os.environ.items() if k != "VOXCORE_SECRET"}
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ori_worker.sim", *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(sim.communicate(), 30)
    assert sim.returncode == 1
    assert b"--protocol livekit needs --secret" in output

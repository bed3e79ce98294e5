"""An inbound LiveKit SIP call end to end: livekit-server, worker, backend, all real.

livekit-server posts its webhooks to the worker's ``/livekit/dispatch``. A SIP caller (a
participant whose token makes it one, with the attributes LiveKit SIP and the number's
dispatch rule set, since this livekit-server has no SIP service) joins a room; the worker's
bot joins it, fetches the bot's config from the backend, talks, and the backend ends up with
the call's one record.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from livekit import api
from redis.asyncio import Redis

from ori_contracts import CallDirection, CallResult, TelephonyProvider, TranscriptRole
from ori_contracts.allocation import WorkerState
from ori_contracts.wire import LIVEKIT_BOT_ATTRIBUTE
from ori_e2e.servers import LiveKitServer, MongoServer, S3Server, free_port, start_livekit
from ori_e2e.voice import (
    BackendProcess,
    BookingEndpoint,
    bot_spec,
    offline_bot,
    start_backend,
    start_worker,
)
from ori_e2e.waiting import worker_in_state
from ori_worker.sim.caller import Line, Script
from ori_worker.sim.livekit_call import LiveKitCall

pytestmark = pytest.mark.e2e

CALLER, DID = "+15550001111", "+15550002222"


def sip_caller_token(server: LiveKitServer, room: str, bot_id: str) -> str:
    """What LiveKit SIP would mint for a call to ``DID`` whose dispatch rule names ``bot_id``."""
    attributes = {
        "sip.phoneNumber": CALLER,
        "sip.trunkPhoneNumber": DID,
        "sip.callID": "SCL_e2e1",
        LIVEKIT_BOT_ATTRIBUTE: bot_id,
    }
    token = api.AccessToken(server.api_key, server.api_secret).with_identity(f"sip_{CALLER}")
    token = token.with_kind("sip").with_attributes(attributes).with_ttl(timedelta(minutes=5))
    return token.with_grants(api.VideoGrants(room_join=True, room=room)).to_jwt()


async def test_an_inbound_livekit_sip_call_ends_in_one_backend_record(
    tmp_path: Path,
    backend_process: BackendProcess,
    booking: BookingEndpoint,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    bot_id = backend_process.create_bot(bot_spec(offline_bot(booking.url)))
    port = free_port()
    livekit = start_livekit(
        tmp_path / "livekit", webhook_urls=[f"http://127.0.0.1:{port}/livekit/dispatch"]
    )
    env = {
        "LIVEKIT_URL": livekit.url,
        "LIVEKIT_API_KEY": livekit.api_key,
        "LIVEKIT_API_SECRET": livekit.api_secret,
    }
    worker = start_worker(
        tmp_path / "worker",
        s3_server,
        s3_bucket,
        config_url=backend_process.config_url,
        extra_env=env,
        port=port,
    )
    try:
        token = sip_caller_token(livekit, "did-call-1", bot_id)
        script = Script((Line("What time do you open"), Line("Goodbye")))
        report = await LiveKitCall(livekit.url, token, script).run()
        assert report.error is None and report.hung_up_by == "bot"
        assert report.pickup_ms is not None and all(t.latency_ms for t in report.turns)
        record = await asyncio.to_thread(backend_process.wait_one_record, time.monotonic(), 15.0)
        assert worker.pending_results() == []
    finally:
        worker.stop()
        livekit.stop()
    result = CallResult.model_validate(record["result"])
    assert (result.bot_id, result.workspace_id) == (bot_id, backend_process.workspace_id)
    assert (result.direction, result.telephony_provider) == (
        CallDirection.INBOUND,
        TelephonyProvider.LIVEKIT,
    )
    assert (result.from_number, result.to_number) == (CALLER, DID)
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    assert said == ["what time do you open", "goodbye"]
    assert result.recording is not None and result.recording.sample_rate_hz == 16000


async def test_livekit_s_webhook_to_the_backend_reaches_a_claimed_worker(
    tmp_path: Path,
    booking: BookingEndpoint,
    mongo_server: MongoServer,
    mongo_db_name: str,
    redis_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    backend_port = free_port()
    hook = f"http://127.0.0.1:{backend_port}/api/v1/inbound/livekit"
    livekit = start_livekit(tmp_path / "livekit", webhook_urls=[hook])
    keys = {"LIVEKIT_API_KEY": livekit.api_key, "LIVEKIT_API_SECRET": livekit.api_secret}
    backend = start_backend(
        tmp_path / "backend", mongo_server.url, mongo_db_name, redis_url, s3_server,
        {**keys, "FLEET_POOL": "default"}, port=backend_port,
    )  # fmt: skip
    fleet = {"REDIS_URL": redis_url, "WORKER_ID": "default-lk1", "FLEETPOOL": "default"}
    worker = start_worker(
        tmp_path / "worker", s3_server, s3_bucket, config_url=backend.config_url,
        extra_env={"LIVEKIT_URL": livekit.url, **keys, **fleet},
    )  # fmt: skip
    redis = Redis.from_url(redis_url)
    try:
        await worker_in_state(redis, "default-lk1", WorkerState.IDLE)
        bot_id = backend.create_bot(bot_spec(offline_bot(booking.url)))
        token = sip_caller_token(livekit, "did-call-2", bot_id)
        report = await LiveKitCall(livekit.url, token, Script((Line("Goodbye"),))).run()
        assert report.error is None and report.hung_up_by == "bot", report.as_dict()
        record = await asyncio.to_thread(backend.wait_one_record, time.monotonic(), 15.0)
    finally:
        await redis.aclose()
        worker.stop()
        backend.stop()
        livekit.stop()
    result = CallResult.model_validate(record["result"])
    assert (result.call_id, result.worker_id) == (record["id"], "default-lk1")
    assert (result.direction, result.from_number) == (CallDirection.INBOUND, CALLER)
    assert [t.text for t in result.transcript if t.role is TranscriptRole.USER] == ["goodbye"]

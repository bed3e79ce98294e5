"""An inbound Twilio call end to end: webhook, claim, router, worker, one record.

Twilio would POST the call to the backend's voice webhook (`/api/v1/inbound/twilio/<bot>`,
signed with `TWILIO_AUTH_TOKEN`). The backend records the call, claims the idle worker
registered in Redis and answers TwiML whose Media Stream goes through the call router (the
chart's nginx configuration) to that worker, with the call id and a per-call token as stream
parameters. The simulated caller then streams exactly there, as Twilio would, talks, and
hangs up; the worker (`REQUIRE_CALL_TOKEN=true`) runs the call on the backend's config and
the backend ends up with its one record. A second call while the only worker is busy hears
the busy message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
from redis.asyncio import Redis

from ori_backend.services.inbound import BUSY_MESSAGE, twilio_signature
from ori_contracts.allocation import WorkerState
from ori_e2e.servers import (
    MongoServer,
    NginxServer,
    S3Server,
    chart_router_conf,
    free_port,
    start_nginx,
)
from ori_e2e.voice import (
    BackendProcess,
    BookingEndpoint,
    WorkerProcess,
    bot_spec,
    offline_bot,
    start_backend,
    start_worker,
)
from ori_e2e.waiting import worker_in_state
from ori_worker.sim.caller import Line, Script, SimulatedCall

pytestmark = pytest.mark.e2e

TOKEN = "twilio-auth-token-for-e2e"
WORKER_ID, WORKER_HOST, POOL = "default-in1x2", "127.0.0.2", "default"
CALLER, DID = "+14155550123", "+14155550100"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def router(port: int, tmp_path: Path) -> Iterator[NginxServer]:
    server = start_nginx(chart_router_conf(port), tmp_path / "nginx")
    yield server
    server.stop()


@pytest.fixture
def backend(
    tmp_path: Path,
    mongo_server: MongoServer,
    mongo_db_name: str,
    redis_url: str,
    s3_server: S3Server,
    router: NginxServer,
) -> Iterator[BackendProcess]:
    env = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "FLEET_POOL": POOL,
        "VOXCORE_WSS_BASE_URL": f"ws://127.0.0.1:{router.port}/w",
    }
    process = start_backend(
        tmp_path / "backend", mongo_server.url, mongo_db_name, redis_url, s3_server, env
    )
    yield process
    process.stop()


@pytest.fixture
async def worker(
    tmp_path: Path,
    port: int,
    redis_url: str,
    backend: BackendProcess,
    s3_server: S3Server,
    s3_bucket: str,
) -> AsyncIterator[WorkerProcess]:
    env = {
        "REDIS_URL": redis_url,
        "WORKER_ID": WORKER_ID,
        "FLEETPOOL": POOL,
        "REQUIRE_CALL_TOKEN": "true",
    }
    process = await asyncio.to_thread(
        start_worker, tmp_path / "worker", s3_server, s3_bucket,
        config_url=backend.config_url, extra_env=env, host=WORKER_HOST, port=port,
    )  # fmt: skip
    redis = Redis.from_url(redis_url)
    try:
        await worker_in_state(redis, WORKER_ID, WorkerState.IDLE)
        yield process
    finally:
        await redis.aclose()
        process.stop()


def ring(backend: BackendProcess, bot_id: str, call_sid: str) -> ElementTree.Element:
    """What Twilio does when the number rings: POST the signed webhook, read the TwiML."""
    url = f"{backend.url}/api/v1/inbound/twilio/{bot_id}"
    form = {"AccountSid": "AC0123", "CallSid": call_sid, "From": CALLER, "To": DID}
    headers = {
        "X-Twilio-Signature": twilio_signature(TOKEN, url, list(form.items())),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = httpx.post(url, content=urlencode(form), headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return ElementTree.fromstring(answer.text)


async def test_an_inbound_twilio_call_is_routed_to_the_claimed_worker_and_recorded(
    backend: BackendProcess, worker: WorkerProcess, booking: BookingEndpoint
) -> None:
    bot_id = backend.create_bot(bot_spec(offline_bot(booking.url)))
    twiml = await asyncio.to_thread(ring, backend, bot_id, "CA00000000000000000000000000000001")
    stream = twiml.find("Connect/Stream")
    assert stream is not None, ElementTree.tostring(twiml)
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    url, call_id = stream.get("url", ""), str(parameters["call_id"])
    assert url.startswith("ws://127.0.0.1:") and url.endswith(f"/twilio/{bot_id}")
    assert f"/w/{WORKER_HOST}/{worker.port}/" in url  # through the router, to the claimed worker

    repeat = await asyncio.to_thread(ring, backend, bot_id, "CA00000000000000000000000000000001")
    assert ElementTree.tostring(repeat) == ElementTree.tostring(twiml)  # Twilio's retry: same
    busy = await asyncio.to_thread(ring, backend, bot_id, "CA00000000000000000000000000000002")
    assert [(e.tag, e.text) for e in busy] == [("Say", BUSY_MESSAGE), ("Hangup", None)]

    base = url.removesuffix(f"/twilio/{bot_id}")
    call = SimulatedCall(base, bot_id, "twilio", Script((Line("Goodbye"),)), call_id=call_id,
                         parameters={"token": str(parameters["token"])})  # fmt: skip
    report = await call.run()
    assert report.error is None and report.pickup_ms is not None, report.as_dict()

    record = await asyncio.to_thread(backend.wait_ended, call_id, 15.0)
    result = record["result"]
    assert isinstance(result, dict)
    assert (record["direction"], record["from_number"], result["worker_id"]) == (
        "inbound",
        CALLER,
        WORKER_ID,
    )
    said = [t["text"] for t in result["transcript"] if t["role"] == "user"]
    assert said == ["goodbye"], result["transcript"]

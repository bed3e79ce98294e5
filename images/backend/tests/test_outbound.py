"""Direct outbound calls on real workers: the most free worker dials; no capacity is a clear 503.

Three worker processes (`ori_worker`, offline providers, one fixed runtime config) with 1, 3
and 2 call slots stand behind `FLEET_URLS`, with a real livekit-server. The backend polls their
`/health`, asks the most free one to dial (`POST /livekit/dialout`), and that worker really
tries: this livekit-server has no SIP service, so the dial fails there and the backend answers
502 with the worker's reason, while the worker keeps the call's one `failed` result. Busy
workers are busy for real: live calls held open on their generic media route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from ori_backend.settings import BackendSettings
from ori_contracts import CallOutcome, CallResult, FailureReason, allocation, redis_keys
from ori_e2e.backend import FLEET_SECRET, Account
from ori_e2e.servers import LiveKitServer, S3Server
from ori_e2e.voice import WorkerProcess, offline_fleet

pytestmark = pytest.mark.e2e

SLOTS = {"w-one": 1, "w-three": 3, "w-two": 2}
SILENCE = bytes(320)  # 20 ms of 8 kHz 16-bit PCM


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server, livekit_server: LiveKitServer
) -> Iterator[dict[str, WorkerProcess]]:
    env = {
        "VOXCORE_SECRET": FLEET_SECRET,
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": livekit_server.api_key,
        "LIVEKIT_API_SECRET": livekit_server.api_secret,
        "LIVEKIT_TRUNK_ID": "ST_outbound",
    }

    def options(name: str) -> dict[str, Any]:
        return {"extra_env": {**env, "MAX_CONCURRENT_CALLS": str(SLOTS[name])}}

    root = tmp_path_factory.mktemp("outbound-workers")
    with offline_fleet(root, s3_server, list(SLOTS), options) as started:
        yield started


@pytest.fixture
def fleet(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The workers behind `FLEET_URLS` (every one unless a test narrows them)."""
    return tuple(getattr(request, "param", SLOTS))


@pytest.fixture
def settings(
    settings: BackendSettings, workers: dict[str, WorkerProcess], fleet: tuple[str, ...]
) -> BackendSettings:
    return settings.model_copy(update={"fleet_urls": [workers[name].url for name in fleet]})


@contextlib.asynccontextmanager
async def live_calls(worker: WorkerProcess, count: int) -> AsyncIterator[None]:
    """Hold `count` inbound calls open on `worker` (generic protocol, the caller silent)."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(connect(f"{worker.ws_url}/ws/appointment-demo"))
            for _ in range(count)
        ]
        for ws in sockets:
            await ws.send(json.dumps({"event": "start", "from": "+14155550100"}))

        async def speak() -> None:
            while True:
                await asyncio.gather(*(ws.send(SILENCE) for ws in sockets))
                await asyncio.sleep(0.02)

        sender = asyncio.create_task(speak())
        try:
            yield
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await asyncio.gather(*(ws.send(json.dumps({"event": "stop"})) for ws in sockets))
            await asyncio.gather(*(ws.close() for ws in sockets))


def all_slots_free(workers: dict[str, WorkerProcess], timeout: float = 30) -> None:
    """Wait until every worker has handed over its calls (slots free again)."""
    deadline = time.monotonic() + timeout
    for name, worker in workers.items():
        while worker.health()["free"] != SLOTS[name]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} still busy:\n{worker.log()}")
            time.sleep(0.2)


def results_for(workers: dict[str, WorkerProcess], call_id: str) -> dict[str, CallResult]:
    """The workers holding a result for `call_id` in their outbox (no backend to deliver to)."""
    found = {}
    for name, worker in workers.items():
        for result in worker.pending_results():
            if result.call_id == call_id:
                found[name] = result
    return found


async def place(
    client: httpx.AsyncClient, account: Account, bot_spec: Any
) -> tuple[httpx.Response, str]:
    """`POST /api/v1/calls`; answers the response and the id of the call it prepared."""
    bot = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    answer = await client.post(
        "/api/v1/calls",
        json={"bot_id": bot.json()["id"], "to_number": "+14155550142"},
        headers=account.headers,
    )
    calls = await client.get("/api/v1/calls", headers=account.headers)
    (call,) = calls.json()["data"]
    return answer, call["id"]


async def test_the_worker_with_the_most_free_slots_dials_the_call(
    client: httpx.AsyncClient, signup: Any, bot_spec: Any, workers: dict[str, WorkerProcess]
) -> None:
    await asyncio.to_thread(all_slots_free, workers)
    answer, call_id = await place(client, await signup(), bot_spec)
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "bad_gateway"
    assert "could not be placed" in answer.json()["message"]
    assert "sip not connected" in answer.json()["message"]  # what the worker got from LiveKit
    (dialled,) = await asyncio.to_thread(
        lambda: _wait(lambda: list(results_for(workers, call_id).items()))
    )
    name, result = dialled
    assert name == "w-three"  # 3 free slots, against 1 and 2
    assert (result.outcome, result.failure_reason) == (CallOutcome.FAILED, FailureReason.DIAL_ERROR)
    assert result.to_number == "+14155550142"

    # Two live calls on w-three leave it one free slot: w-two (two free) dials next.
    async with live_calls(workers["w-three"], 2):
        assert (await asyncio.to_thread(workers["w-three"].health))["free"] == 1
        answer, call_id = await place(client, await signup(), bot_spec)
    assert answer.status_code == 502, answer.text
    (dialled,) = await asyncio.to_thread(lambda: _wait(lambda: list(results_for(workers, call_id))))
    assert dialled == "w-two"


@pytest.mark.parametrize("fleet", [("w-one",)], indirect=True)
async def test_no_free_slot_is_a_clear_503_and_the_call_is_not_placed(
    client: httpx.AsyncClient, signup: Any, bot_spec: Any, workers: dict[str, WorkerProcess]
) -> None:
    await asyncio.to_thread(all_slots_free, workers)
    account = await signup()
    async with live_calls(workers["w-one"], 1):
        assert (await asyncio.to_thread(workers["w-one"].health))["free"] == 0
        answer, call_id = await place(client, account, bot_spec)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["message"] == "no worker is free to take the call; try again shortly"
    record = await client.get(f"/api/v1/calls/{call_id}", headers=account.headers)
    assert (record.json()["status"], record.json()["direction"]) == ("not_placed", "outbound")
    await asyncio.to_thread(all_slots_free, workers)
    assert results_for(workers, call_id) == {}  # no worker was asked to dial it


@pytest.mark.parametrize("fleet", [()], indirect=True)
async def test_a_claimed_worker_that_refuses_is_given_back(
    client: httpx.AsyncClient,
    signup: Any,
    bot_spec: Any,
    workers: dict[str, WorkerProcess],
    settings: BackendSettings,
) -> None:
    """The allocator hands out w-one, busy for real with a call Redis does not know of: the
    worker refuses (409) before dialling, and the backend releases its claim."""
    await asyncio.to_thread(all_slots_free, workers)
    pool, worker_id = settings.fleet_pool, "w-one-registered"
    redis = Redis.from_url(settings.redis_url)
    try:
        beat = allocation.heartbeat(worker_id, pool, workers["w-one"].address)
        await redis.eval(beat.script.source, len(beat.keys), *beat.keys, *beat.args)
        account = await signup()
        async with live_calls(workers["w-one"], 1):
            answer, call_id = await place(client, account, bot_spec)
        assert answer.status_code == 503, answer.text
        assert "409" in answer.json()["message"]  # what w-one said, in the refusal list
        registration = await redis.hgetall(redis_keys.worker(worker_id))
        assert registration[b"state"] == b"idle", registration
        assert await redis.get(redis_keys.call_claim(call_id)) is None
        assert await redis.zscore(redis_keys.pool_idle_workers(pool), worker_id) is not None
    finally:
        await redis.delete(redis_keys.worker(worker_id), redis_keys.pool_idle_workers(pool))
        await redis.aclose()


async def test_unknown_bot_is_404(client: httpx.AsyncClient, signup: Any) -> None:
    account = await signup()
    answer = await client.post(
        "/api/v1/calls",
        json={"bot_id": "bot_missing", "to_number": "+14155550142"},
        headers=account.headers,
    )
    assert answer.status_code == 404


def _wait(found: Any, timeout: float = 30) -> Any:
    """Poll `found()` until it answers something truthy."""
    deadline = time.monotonic() + timeout
    while not (answer := found()):
        if time.monotonic() > deadline:
            raise AssertionError("nothing found in time")
        time.sleep(0.2)
    return answer

"""Draining on SIGTERM, a killed worker, and the worker's registration in Redis."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from ori_contracts import allocation, new_call_id, redis_keys
from ori_contracts.allocation import ClaimOutcome, WorkerRegistration, WorkerState
from ori_worker.sim.caller import Line, Script, SimulatedCall

from .conftest import BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration

SHORT = Script((Line("What time do you open"), Line("Goodbye")))
GOODBYE = Script((Line("Goodbye"),))


async def test_sigterm_mid_call_finishes_the_call_then_exits(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    worker = worker_factory(config=offline_bot(booking.url))
    call = asyncio.create_task(
        SimulatedCall(worker.ws_url, "appointment-demo", "twilio", SHORT).run()
    )
    await asyncio.sleep(3.0)
    worker.signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    late = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", SHORT).run()
    assert late.refused is not None and "draining" in late.refused
    report = await call
    assert report.hung_up_by == "bot" and all(t.latency_ms is not None for t in report.turns)
    code = await asyncio.to_thread(worker.wait_exit, 30)
    assert code == 0
    (result,) = worker.pending_results()  # no backend here: kept on disk for the next start
    assert result.ended_by.value == "bot"


async def test_a_killed_worker_loses_only_its_own_call(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    doomed = worker_factory("doomed", config=offline_bot(booking.url))
    healthy = worker_factory("healthy", config=offline_bot(booking.url))
    calls = [
        asyncio.create_task(SimulatedCall(w.ws_url, "appointment-demo", "twilio", SHORT).run())
        for w in (doomed, healthy)
    ]
    await asyncio.sleep(3.0)
    doomed.signal(signal.SIGKILL)
    lost, kept = await asyncio.gather(*calls)
    assert lost.hung_up_by == "bot" and lost.duration_s < kept.duration_s
    assert kept.hung_up_by == "bot" and all(t.latency_ms is not None for t in kept.turns)
    result = await asyncio.to_thread(healthy.wait_result, 30)
    assert result.ended_by.value == "bot"
    assert doomed.pending_results() == []


async def test_the_worker_registers_and_follows_claim_release_and_retire(
    worker_factory: WorkerFactory, booking: BookingEndpoint, redis_url: str
) -> None:
    worker = worker_factory(
        config=offline_bot(booking.url),
        extra_env={"REDIS_URL": redis_url, "WORKER_ID": "w-1", "FLEETPOOL": "pool-a"},
    )
    redis = Redis.from_url(redis_url)
    try:

        async def registration() -> WorkerRegistration | None:
            return WorkerRegistration.from_hash(await redis.hgetall(redis_keys.worker("w-1")))

        async def wait_state(state: WorkerState) -> WorkerRegistration:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                reg = await registration()
                if reg is not None and reg.state is state:
                    return reg
                await asyncio.sleep(0.1)
            raise AssertionError(f"registration never became {state}: {await registration()}")

        reg = await wait_state(WorkerState.IDLE)
        assert reg.address == f"127.0.0.1:{worker.port}"
        assert await redis.ttl(redis_keys.worker("w-1")) <= redis_keys.WORKER_TTL_S

        call_id = new_call_id()
        claim = allocation.claim("pool-a", call_id)
        raw = await redis.register_script(claim.script.source)(keys=claim.keys, args=claim.args)
        assert allocation.parse_claim(raw).worker_id == "w-1"
        report = await SimulatedCall(
            worker.ws_url, "appointment-demo", "twilio", SHORT, call_id=call_id
        ).run()
        assert report.hung_up_by == "bot"
        result = await asyncio.to_thread(worker.wait_result, 30)
        assert result.call_id == call_id
        reg = await wait_state(WorkerState.IDLE)
        assert reg.call_id == ""

        worker.signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait_exit, 30) == 0
        await wait_state(WorkerState.RETIRED)
    finally:
        await redis.aclose()


async def test_a_direct_call_holds_the_worker_in_redis_and_a_claimed_worker_refuses_one(
    worker_factory: WorkerFactory, booking: BookingEndpoint, redis_url: str
) -> None:
    worker = worker_factory(
        config=offline_bot(booking.url),
        extra_env={"REDIS_URL": redis_url, "WORKER_ID": "w-d", "FLEETPOOL": "pool-d"},
    )
    redis = Redis.from_url(redis_url, decode_responses=True)
    active_key, idle_key = (
        redis_keys.pool_active_calls("pool-d"),
        redis_keys.pool_idle_workers("pool-d"),
    )

    async def run(call: allocation.ScriptCall) -> Any:
        return await redis.eval(call.script.source, len(call.keys), *call.keys, *call.args)

    async def wait_for(state: WorkerState) -> WorkerRegistration:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            raw = await redis.hgetall(redis_keys.worker("w-d"))
            reg = WorkerRegistration.from_hash({str(k): str(v) for k, v in raw.items()})
            if (
                reg is not None
                and reg.state is state
                and (state is not WorkerState.BUSY or reg.call_id)
            ):
                return reg
            await asyncio.sleep(0.05)
        raise AssertionError(f"registration never became {state}:\n{worker.log()}")

    try:
        await wait_for(WorkerState.IDLE)
        # A carrier's inbound call routed straight to the worker: no claim, no call id.
        direct = asyncio.create_task(
            SimulatedCall(worker.ws_url, "appointment-demo", "twilio", SHORT).run()
        )
        busy = await wait_for(WorkerState.BUSY)
        assert set(await redis.zrange(active_key, 0, -1)) == {busy.call_id}  # KEDA counts it
        assert await redis.zscore(idle_key, "w-d") is None
        assert await redis.get(redis_keys.call_claim(busy.call_id)) == "w-d"
        taken = allocation.parse_claim(await run(allocation.claim("pool-d", new_call_id())))
        assert taken.outcome is ClaimOutcome.FULL  # no allocator can hand it another call
        report = await direct
        assert report.hung_up_by == "bot" and report.turns
        result = await asyncio.to_thread(worker.wait_result, 30)
        assert result.call_id == busy.call_id
        idle = await wait_for(WorkerState.IDLE)
        assert idle.call_id == ""
        assert await redis.zrange(active_key, 0, -1) == []
        assert await redis.zscore(idle_key, "w-d") is not None
        assert await redis.get(redis_keys.call_claim(busy.call_id)) is None

        # An allocator claims the worker for a call whose media has not arrived yet: a direct
        # call that gets there first is refused, and the claimed call is then served.
        routed = new_call_id()
        claimed = allocation.parse_claim(await run(allocation.claim("pool-d", routed)))
        assert claimed.worker_id == "w-d"
        refused = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", GOODBYE).run()
        assert (refused.close_code, refused.close_reason) == (
            1013,
            f"busy: claimed for call {routed}",
        )
        assert refused.turns == []
        assert set(await redis.zrange(active_key, 0, -1)) == {routed}
        served = await SimulatedCall(
            worker.ws_url, "appointment-demo", "twilio", GOODBYE, call_id=routed
        ).run()
        assert served.hung_up_by == "bot" and served.turns
        assert (await wait_for(WorkerState.IDLE)).call_id == ""
        assert await redis.zrange(active_key, 0, -1) == []
        assert 'ori_worker_calls_refused_total{reason="busy"}' in worker.metrics()
    finally:
        await redis.aclose()

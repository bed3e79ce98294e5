"""`admit` on a real Redis: a call that reaches a worker without a claim, and its races.

Claim, retire and admit all require an idle worker, so whatever order they run in, at most
one of them wins a worker; the registration, the idle set, the call's claim and the active
call set KEDA reads always agree.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from ori_contracts import allocation, redis_keys
from ori_contracts.allocation import (
    AdmitOutcome,
    AdmitResult,
    ClaimOutcome,
    ClaimResult,
    ScriptCall,
    WorkerRegistration,
    WorkerState,
)

pytestmark = pytest.mark.integration

POOL = "default"


class Fleet:
    """Runs the allocation scripts on one Redis, as the worker, allocators and operator do."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def run(self, call: ScriptCall) -> Any:
        return await self.redis.eval(call.script.source, len(call.keys), *call.keys, *call.args)

    async def register(self, count: int) -> list[str]:
        workers = [f"w{i}" for i in range(count)]
        for i, worker in enumerate(workers):
            raw = await self.run(allocation.heartbeat(worker, POOL, self.address(i)))
            assert allocation.parse_state(raw) is WorkerState.IDLE
        return workers

    @staticmethod
    def address(index: int) -> str:
        return f"10.0.0.{index + 1}:8000"

    async def admit(self, worker: str, call_id: str) -> AdmitResult:
        index = int(worker.removeprefix("w")) if worker.removeprefix("w").isdigit() else 0
        call = allocation.admit(worker, POOL, self.address(index), call_id)
        return allocation.parse_admit(await self.run(call))

    async def claim(self, call_id: str) -> ClaimResult:
        return allocation.parse_claim(await self.run(allocation.claim(POOL, call_id)))

    async def retire(self, worker: str, *, drain: bool = False) -> WorkerState | None:
        return allocation.parse_state(await self.run(allocation.retire(worker, POOL, drain=drain)))

    async def release(self, worker: str, call_id: str) -> WorkerState | None:
        return allocation.parse_state(await self.run(allocation.release(worker, POOL, call_id)))

    async def registration(self, worker: str) -> WorkerRegistration:
        raw = await self.redis.hgetall(redis_keys.worker(worker))
        reg = WorkerRegistration.from_hash({str(k): str(v) for k, v in raw.items()})
        assert reg is not None, f"{worker} is not registered"
        return reg

    async def idle(self) -> set[str]:
        key = redis_keys.pool_idle_workers(POOL)
        return {str(member) for member in await self.redis.zrange(key, 0, -1)}

    async def active(self) -> set[str]:
        key = redis_keys.pool_active_calls(POOL)
        return {str(member) for member in await self.redis.zrange(key, 0, -1)}

    async def claim_owner(self, call_id: str) -> str | None:
        owner = await self.redis.get(redis_keys.call_claim(call_id))
        return None if owner is None else str(owner)


@pytest.fixture
async def fleet(redis_url: str) -> AsyncIterator[Fleet]:
    redis = Redis.from_url(redis_url, max_connections=128, decode_responses=True)
    yield Fleet(redis)
    await redis.aclose()


async def test_a_direct_call_makes_an_idle_worker_busy_like_a_claim(fleet: Fleet) -> None:
    (worker,) = await fleet.register(1)
    result = await fleet.admit(worker, "call_direct")
    assert (result.outcome, result.ok) == (AdmitOutcome.ADMITTED, True)
    reg = await fleet.registration(worker)
    assert (reg.state, reg.call_id) == (WorkerState.BUSY, "call_direct")
    assert reg.claimed_at is not None
    assert await fleet.idle() == set()
    assert await fleet.active() == {"call_direct"}  # KEDA counts it
    assert await fleet.claim_owner("call_direct") == worker
    # No allocator can take the worker now; a reconnect through one finds it.
    assert (await fleet.claim("call_other")).outcome is ClaimOutcome.FULL
    again = await fleet.claim("call_direct")
    assert (again.outcome, again.worker_id, again.address) == (
        ClaimOutcome.EXISTING,
        worker,
        fleet.address(0),
    )


async def test_release_after_a_direct_call_returns_the_worker_to_idle(fleet: Fleet) -> None:
    (worker,) = await fleet.register(1)
    await fleet.admit(worker, "call_direct")
    assert await fleet.release(worker, "call_direct") is WorkerState.IDLE
    reg = await fleet.registration(worker)
    assert (reg.state, reg.call_id) == (WorkerState.IDLE, "")
    assert await fleet.active() == set()
    assert await fleet.idle() == {worker}
    assert await fleet.claim_owner("call_direct") is None
    assert (await fleet.claim("call_next")).worker_id == worker


async def test_an_unregistered_worker_registers_busy_with_its_ttl(fleet: Fleet) -> None:
    result = await fleet.admit("w0", "call_direct")
    assert result.outcome is AdmitOutcome.ADMITTED
    reg = await fleet.registration("w0")
    assert (reg.state, reg.pool, reg.address, reg.call_id) == (
        WorkerState.BUSY,
        POOL,
        fleet.address(0),
        "call_direct",
    )
    assert 0 < await fleet.redis.ttl(redis_keys.worker("w0")) <= redis_keys.WORKER_TTL_S
    beat = await fleet.run(allocation.heartbeat("w0", POOL, fleet.address(0), "call_direct"))
    assert allocation.parse_state(beat) is WorkerState.BUSY


async def test_the_call_a_worker_was_claimed_for_is_existing(fleet: Fleet) -> None:
    (worker,) = await fleet.register(1)
    claimed = await fleet.claim("call_routed")
    assert claimed.worker_id == worker
    result = await fleet.admit(worker, "call_routed")
    assert (result.outcome, result.ok) == (AdmitOutcome.EXISTING, True)
    assert await fleet.active() == {"call_routed"}


async def test_a_worker_claimed_for_another_call_refuses_the_direct_call(fleet: Fleet) -> None:
    (worker,) = await fleet.register(1)
    await fleet.claim("call_routed")
    result = await fleet.admit(worker, "call_direct")
    assert (result.outcome, result.detail, result.ok) == (AdmitOutcome.BUSY, "call_routed", False)
    reg = await fleet.registration(worker)
    assert (reg.state, reg.call_id) == (WorkerState.BUSY, "call_routed")
    assert await fleet.active() == {"call_routed"}
    assert await fleet.claim_owner("call_direct") is None


async def test_a_call_claimed_for_another_worker_is_refused_here(fleet: Fleet) -> None:
    workers = await fleet.register(2)
    claimed = await fleet.claim("call_routed")
    other = next(w for w in workers if w != claimed.worker_id)
    result = await fleet.admit(other, "call_routed")
    assert (result.outcome, result.detail) == (AdmitOutcome.ELSEWHERE, claimed.worker_id)
    assert (await fleet.registration(other)).state is WorkerState.IDLE
    assert await fleet.idle() == {other}


@pytest.mark.parametrize("drain", [True, False])
async def test_draining_and_retired_workers_refuse_and_stay_as_they_are(
    fleet: Fleet, drain: bool
) -> None:
    (worker,) = await fleet.register(1)
    if drain:
        await fleet.claim("call_routed")
        assert await fleet.retire(worker, drain=True) is WorkerState.DRAINING
    else:
        assert await fleet.retire(worker) is WorkerState.RETIRED
    result = await fleet.admit(worker, "call_direct")
    expected = AdmitOutcome.DRAINING if drain else AdmitOutcome.RETIRED
    assert (result.outcome, result.ok) == (expected, False)
    reg = await fleet.registration(worker)
    assert reg.state is (WorkerState.DRAINING if drain else WorkerState.RETIRED)
    assert await fleet.active() == ({"call_routed"} if drain else set())
    assert await fleet.claim_owner("call_direct") is None


async def test_a_retired_tombstone_stops_an_unregistered_worker_taking_a_call(
    fleet: Fleet,
) -> None:
    assert await fleet.retire("w0") is WorkerState.RETIRED  # its pod is going away
    assert (await fleet.admit("w0", "call_direct")).outcome is AdmitOutcome.RETIRED


async def test_two_direct_calls_racing_for_one_worker_admit_exactly_one(fleet: Fleet) -> None:
    (worker,) = await fleet.register(1)
    results = await asyncio.gather(*(fleet.admit(worker, f"call_{i}") for i in range(20)))
    winners = [i for i, r in enumerate(results) if r.ok]
    assert len(winners) == 1
    assert {r.outcome for r in results if not r.ok} == {AdmitOutcome.BUSY}
    assert await fleet.active() == {f"call_{winners[0]}"}


async def test_admit_claim_and_retire_racing_never_give_a_worker_twice(fleet: Fleet) -> None:
    workers = await fleet.register(30)
    jobs: list[tuple[str, str, Any]] = []
    for i, worker in enumerate(workers):
        jobs.append(("admit", worker, fleet.admit(worker, f"direct_{i}")))
        jobs.append(("retire", worker, fleet.retire(worker)))
    for i in range(30):
        jobs.append(("claim", f"routed_{i}", fleet.claim(f"routed_{i}")))
    random.Random(7).shuffle(jobs)
    answers = await asyncio.gather(*(job for _, _, job in jobs))

    winners: dict[str, list[str]] = {w: [] for w in workers}
    for (kind, subject, _), answer in zip(jobs, answers, strict=True):
        if kind == "admit" and answer.ok:
            winners[subject].append(f"direct_{subject.removeprefix('w')}")
        elif kind == "retire" and answer is WorkerState.RETIRED:
            winners[subject].append("retired")
        elif kind == "claim" and answer.ok:
            winners[answer.worker_id].append(subject)
    assert all(len(won) == 1 for won in winners.values()), winners

    calls = set()
    for worker, (won,) in winners.items():
        reg = await fleet.registration(worker)
        if won == "retired":
            assert reg.state is WorkerState.RETIRED
        else:
            assert (reg.state, reg.call_id) == (WorkerState.BUSY, won)
            assert await fleet.claim_owner(won) == worker
            calls.add(won)
    assert await fleet.active() == calls  # the set KEDA reads: exactly the live calls
    assert await fleet.idle() == set()

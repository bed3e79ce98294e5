"""The allocation scripts on a real Redis: claims, releases, retirement, TTLs, races."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from ori_contracts import redis_keys
from ori_contracts.allocation import ClaimOutcome, WorkerState
from ori_operator.allocator import Allocator

pytestmark = pytest.mark.integration

POOL = "default"


@pytest.fixture
async def alloc(redis_url: str) -> AsyncIterator[Allocator]:
    redis = Redis.from_url(redis_url, max_connections=128)
    yield Allocator(redis)
    await redis.aclose()


async def register(alloc: Allocator, count: int, pool: str = POOL) -> list[str]:
    workers = [f"{pool}-w{i}" for i in range(count)]
    for i, worker in enumerate(workers):
        assert await alloc.heartbeat(worker, pool, f"10.0.0.{i + 1}:8000") is WorkerState.IDLE
    return workers


async def test_heartbeat_registers_an_idle_worker_with_ttl(alloc: Allocator) -> None:
    await register(alloc, 1)
    registration = (await alloc.registrations(["default-w0"]))["default-w0"]
    assert registration is not None
    assert (registration.state, registration.pool) == (WorkerState.IDLE, POOL)
    assert registration.address == "10.0.0.1:8000"
    ttl = await alloc.redis.ttl(redis_keys.worker("default-w0"))
    assert 0 < ttl <= redis_keys.WORKER_TTL_S
    assert await alloc.idle_workers(POOL) == 1


async def test_claim_marks_busy_publishes_the_call_and_a_reconnect_finds_the_same_worker(
    alloc: Allocator,
) -> None:
    await register(alloc, 2)
    first = await alloc.claim(POOL, "call_a")
    assert first.outcome is ClaimOutcome.CLAIMED
    again = await alloc.claim(POOL, "call_a")
    assert again.outcome is ClaimOutcome.EXISTING
    assert (again.worker_id, again.address) == (first.worker_id, first.address)
    second = await alloc.claim(POOL, "call_b")
    assert second.worker_id not in (None, first.worker_id)
    assert (await alloc.claim(POOL, "call_c")).outcome is ClaimOutcome.FULL
    assert await alloc.active_calls(POOL) == 2
    assert await alloc.redis.type(redis_keys.pool_active_calls(POOL)) == b"zset"  # KEDA: ZCARD


async def test_the_heartbeat_tells_a_worker_it_was_claimed(alloc: Allocator) -> None:
    await register(alloc, 1)
    claimed = await alloc.claim(POOL, "call_a")
    assert await alloc.heartbeat("default-w0", POOL, "10.0.0.1:8000") is WorkerState.BUSY
    assert claimed.worker_id == "default-w0"


async def test_release_returns_the_worker_to_the_idle_set(alloc: Allocator) -> None:
    (worker,) = await register(alloc, 1)
    await alloc.claim(POOL, "call_a")
    assert await alloc.release(worker, POOL, "call_a") is WorkerState.IDLE
    assert await alloc.active_calls(POOL) == 0
    assert await alloc.redis.get(redis_keys.call_claim("call_a")) is None
    assert (await alloc.claim(POOL, "call_b")).worker_id == worker


async def test_a_stale_release_does_not_free_a_worker_on_another_call(alloc: Allocator) -> None:
    (worker,) = await register(alloc, 1)
    await alloc.claim(POOL, "call_a")
    assert await alloc.release(worker, POOL, "call_zzz") is WorkerState.BUSY


async def test_an_expired_registration_is_never_claimed(alloc: Allocator) -> None:
    workers = await register(alloc, 2)
    await alloc.redis.delete(redis_keys.worker(workers[1]))  # its TTL ran out
    await alloc.redis.pexpire(redis_keys.worker(workers[0]), 1)
    await asyncio.sleep(0.05)
    assert (await alloc.claim(POOL, "call_a")).outcome is ClaimOutcome.FULL
    assert await alloc.idle_workers(POOL) == 0  # the stale entries were dropped


async def test_a_call_whose_worker_died_is_reported_gone(alloc: Allocator) -> None:
    (worker,) = await register(alloc, 1)
    await alloc.claim(POOL, "call_a")
    await alloc.redis.delete(redis_keys.worker(worker))
    result = await alloc.claim(POOL, "call_a")
    assert (result.outcome, result.worker_id) == (ClaimOutcome.GONE, worker)


async def test_retire_takes_idle_workers_and_drains_busy_ones_only_when_asked(
    alloc: Allocator,
) -> None:
    idle, busy = await register(alloc, 2)
    claimed = await alloc.claim(POOL, "call_a")
    if claimed.worker_id != busy:
        idle, busy = busy, idle
    assert await alloc.retire(busy, POOL, drain=False) is WorkerState.BUSY
    assert await alloc.retire(idle, POOL, drain=False) is WorkerState.RETIRED
    assert (await alloc.claim(POOL, "call_b")).outcome is ClaimOutcome.FULL
    assert await alloc.retire(busy, POOL, drain=True) is WorkerState.DRAINING
    assert (await alloc.claim(POOL, "call_a")).outcome is ClaimOutcome.EXISTING  # reconnect
    assert await alloc.release(busy, POOL, "call_a") is WorkerState.RETIRED
    assert await alloc.heartbeat(busy, POOL, "10.0.0.2:8000") is WorkerState.RETIRED


async def test_undrain_puts_a_draining_worker_back_in_service(alloc: Allocator) -> None:
    (worker,) = await register(alloc, 1)
    await alloc.claim(POOL, "call_a")
    assert await alloc.retire(worker, POOL, drain=True) is WorkerState.DRAINING
    assert await alloc.undrain(worker) is WorkerState.BUSY
    assert await alloc.release(worker, POOL, "call_a") is WorkerState.IDLE


async def test_retiring_an_unregistered_worker_stops_it_registering_later(
    alloc: Allocator,
) -> None:
    assert await alloc.retire("default-late", POOL, drain=False) is WorkerState.RETIRED
    assert await alloc.heartbeat("default-late", POOL, "10.0.0.9:8000") is WorkerState.RETIRED
    assert (await alloc.claim(POOL, "call_a")).outcome is ClaimOutcome.FULL


async def test_pools_do_not_share_workers(alloc: Allocator) -> None:
    await register(alloc, 1, pool="blue")
    assert (await alloc.claim("green", "call_a")).outcome is ClaimOutcome.FULL
    assert (await alloc.claim("blue", "call_a")).outcome is ClaimOutcome.CLAIMED


async def test_stale_active_calls_are_pruned_from_the_keda_set(alloc: Allocator) -> None:
    key = redis_keys.pool_active_calls(POOL)
    seconds, _ = await alloc.redis.time()
    await alloc.redis.zadd(key, {"live": seconds, "stale": seconds - 3600})
    assert await alloc.active_calls(POOL) == 1
    assert await alloc.redis.zrange(key, 0, -1) == [b"live"]


async def test_many_concurrent_claimers_never_share_a_worker(alloc: Allocator) -> None:
    workers = await register(alloc, 40)
    calls = [f"call_{i}" for i in range(64)]
    results = await asyncio.gather(*(alloc.claim(POOL, call) for call in calls))
    won = [r.worker_id for r in results if r.outcome is ClaimOutcome.CLAIMED]
    assert len(won) == len(workers)
    assert len(set(won)) == len(won)
    assert sum(r.outcome is ClaimOutcome.FULL for r in results) == len(calls) - len(workers)


async def test_claim_and_retire_racing_on_the_same_workers_never_both_win(
    alloc: Allocator,
) -> None:
    workers = await register(alloc, 30)
    claims = [alloc.claim(POOL, f"call_{i}") for i in range(30)]
    retires = [alloc.retire(w, POOL, drain=False) for w in workers]
    mixed = [c for pair in itertools.zip_longest(claims, retires) for c in pair if c is not None]
    answers = await asyncio.gather(*mixed)
    claimed = {a.worker_id for a in answers if hasattr(a, "outcome") and a.ok}
    retired = {w for w, a in zip(workers, answers[1::2], strict=True) if a is WorkerState.RETIRED}
    assert claimed.isdisjoint(retired)
    assert claimed | retired == set(workers)
    states = await alloc.registrations(workers)
    for worker, registration in states.items():
        assert registration is not None
        expected = WorkerState.BUSY if worker in claimed else WorkerState.RETIRED
        assert registration.state is expected

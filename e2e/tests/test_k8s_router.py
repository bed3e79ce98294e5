"""The call router's nginx configuration, exactly as the chart renders it, before real workers.

Two worker processes (`ori_worker`, offline providers, `REQUIRE_CALL_TOKEN=true`) listen on
127.0.0.2 and 127.0.0.3 on the same port, as pods do, and register in Redis. A call is claimed
first, then placed through nginx at `/w/<ip>/<port>/...` with its signed per-call token: the
claimed worker runs it, a reconnect of the call is routed to the same worker again, a token
signed for anything else is refused by the worker, and the other worker sees nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from ori_contracts import CallResult, allocation, new_call_id, redis_keys
from ori_contracts.allocation import ClaimOutcome, WorkerState
from ori_e2e.servers import (
    NginxServer,
    RedisServer,
    S3Server,
    chart_router_conf,
    free_port,
    start_nginx,
)
from ori_e2e.voice import SECRET, WorkerProcess, offline_fleet
from ori_e2e.waiting import worker_in_state
from ori_operator.allocator import Allocator
from ori_worker.sim.caller import CallReport, Line, Script, SimulatedCall
from ori_worker.sim.carrier import TwilioCarrier

pytestmark = pytest.mark.e2e

POOL = "default"
BOT = "appointment-demo"
HOSTS = {"default-a1b2c": "127.0.0.2", "default-d3e4f": "127.0.0.3"}
CALL = Script((Line("What time do you open"), Line("Goodbye")))
HANG_UP = Script((Line("Goodbye"),))
POLICY_VIOLATION = 1008


@pytest.fixture(scope="module")
def fleet_redis_url(redis_server: RedisServer) -> str:
    """Database 0, which `redis_url` never hands out: the workers live for the whole module."""
    import redis  # noqa: PLC0415

    url = redis_server.db_url(0)
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server, fleet_redis_url: str
) -> Iterator[dict[str, WorkerProcess]]:
    """Two real workers, one port, two loopback "pod IPs", started side by side."""
    port = free_port()

    def options(worker_id: str) -> dict[str, Any]:
        env = {
            "REDIS_URL": fleet_redis_url,
            "WORKER_ID": worker_id,
            "FLEETPOOL": POOL,
            "REQUIRE_CALL_TOKEN": "true",
        }
        return {"extra_env": env, "host": HOSTS[worker_id], "port": port}

    root = tmp_path_factory.mktemp("router-workers")
    with offline_fleet(root, s3_server, list(HOSTS), options) as started:
        yield started


@pytest.fixture(scope="module")
def router(
    workers: dict[str, WorkerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxServer]:
    port = next(iter(workers.values())).port
    server = start_nginx(chart_router_conf(port), tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture
async def alloc(
    fleet_redis_url: str, workers: dict[str, WorkerProcess]
) -> AsyncIterator[Allocator]:
    redis = Redis.from_url(fleet_redis_url)
    allocator = Allocator(redis)
    for worker_id in workers:
        await worker_in_state(redis, worker_id, WorkerState.IDLE)
    yield allocator
    await redis.aclose()


def token_for(call_id: str, worker_id: str, *, secret: str = SECRET, ttl_s: int = 120) -> str:
    expires_at = int(time.time()) + ttl_s
    return allocation.sign_call_token(
        secret, call_id=call_id, worker_id=worker_id, expires_at=expires_at
    )


def routed_base(router: NginxServer, address: str) -> str:
    """The router URL a carrier streams to for the worker at `address` (`/w/<ip>/<port>`)."""
    return f"ws://127.0.0.1:{router.port}" + allocation.routed_path(address, "").rstrip("/")


async def place(router: NginxServer, address: str, call_id: str, token: str | None) -> CallReport:
    """A Twilio media stream through the router, the call id and token as <Parameter>s."""
    parameters = {"token": token} if token is not None else {}
    call = SimulatedCall(
        routed_base(router, address), BOT, "twilio", HANG_UP, call_id=call_id,
        parameters=parameters,
    )  # fmt: skip
    return await call.run()


def result_of(worker: WorkerProcess, call_id: str, timeout: float = 30) -> CallResult:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for result in worker.pending_results():  # no backend here: results stay in the outbox
            if result.call_id == call_id:
                return result
        time.sleep(0.2)
    raise AssertionError(f"no result for {call_id}:\n{worker.log()}")


@dataclass(frozen=True)
class Seen:
    """What a worker has seen so far: call and refusal counters, results, log lines."""

    counters: dict[str, float]
    results: int
    log_lines: int

    @classmethod
    def of(cls, worker: WorkerProcess) -> Seen:
        counters = {
            sample.name + str(sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(worker.metrics())
            if family.name in ("ori_worker_calls", "ori_worker_calls_refused")
            for sample in family.samples
            if sample.name.endswith("_total")
        }
        log = worker.process.log_path.read_text(errors="replace")
        return cls(counters, len(worker.pending_results()), log.count("\n"))

    def new_log(self, worker: WorkerProcess) -> str:
        log = worker.process.log_path.read_text(errors="replace")
        return "\n".join(log.split("\n")[self.log_lines :])

    def refused(self, worker: WorkerProcess, reason: str) -> float:
        """How many calls `worker` refused for `reason` since this snapshot."""
        key = "ori_worker_calls_refused_total" + str([("reason", reason)])
        return Seen.of(worker).counters.get(key, 0.0) - self.counters.get(key, 0.0)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def saw_nothing(worker: WorkerProcess, before: Seen) -> None:
    """Since `before`, the worker served, refused, recorded and logged no call."""
    after = Seen.of(worker)
    assert (after.counters, after.results) == (before.counters, before.results)
    assert "call_id" not in before.new_log(worker)
    assert worker.health()["busy"] == 0


async def test_a_claimed_call_runs_on_its_worker_and_a_reconnect_lands_there_again(
    router: NginxServer, workers: dict[str, WorkerProcess], alloc: Allocator
) -> None:
    call_id = new_call_id()
    claimed = await alloc.claim(POOL, call_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED and claimed.worker_id and claimed.address
    owner = workers[claimed.worker_id]
    other_id = next(worker_id for worker_id in workers if worker_id != claimed.worker_id)
    other = workers[other_id]
    assert claimed.address == owner.address
    token = token_for(call_id, claimed.worker_id)
    seen = {worker_id: Seen.of(worker) for worker_id, worker in workers.items()}

    # The carrier's first stream dies before its start message (the call id and token in the
    # query string this time); nginx carried it to the claimed worker, which saw it drop.
    query = f"?call_id={call_id}&token={token}"
    async with connect(f"{routed_base(router, claimed.address)}/twilio/{BOT}{query}"):
        pass
    owner_seen = seen[claimed.worker_id]
    assert await asyncio.to_thread(
        lambda: wait_until(lambda: "twilio stream refused" in owner_seen.new_log(owner))
    ), owner_seen.new_log(owner)

    # The carrier reconnects: the claim answers the same worker, and the call runs there.
    again = await alloc.claim(POOL, call_id)
    assert (again.outcome, again.worker_id, again.address) == (
        ClaimOutcome.EXISTING,
        claimed.worker_id,
        claimed.address,
    )
    call = SimulatedCall(routed_base(router, again.address or ""), BOT, "twilio", CALL,
                         call_id=call_id, parameters={"token": token})  # fmt: skip
    report = await call.run()
    assert report.refused is None and report.hung_up_by == "bot"
    assert [t.latency_ms is not None for t in report.turns] == [True, True]
    result = await asyncio.to_thread(result_of, owner, call_id)
    assert (result.worker_id, result.direction.value) == (claimed.worker_id, "outbound")
    assert [turn.text for turn in result.transcript if turn.role.value == "user"] == [
        line.text.lower() for line in CALL.lines
    ]
    await worker_in_state(alloc.redis, claimed.worker_id, WorkerState.IDLE)
    assert await alloc.active_calls(POOL) == 0
    saw_nothing(other, seen[other_id])


async def test_the_worker_refuses_a_token_not_signed_for_this_call_and_worker(
    router: NginxServer, workers: dict[str, WorkerProcess], alloc: Allocator
) -> None:
    call_id = new_call_id()
    claimed = await alloc.claim(POOL, call_id)
    assert claimed.worker_id and claimed.address
    owner = workers[claimed.worker_id]
    other_id = next(worker_id for worker_id in workers if worker_id != claimed.worker_id)
    seen = {worker_id: Seen.of(worker) for worker_id, worker in workers.items()}
    not_signed = "call token was not signed for this call and worker"
    attempts = {
        token_for(call_id, other_id): not_signed,  # the other worker's token
        token_for(call_id, claimed.worker_id, secret="forged-" + SECRET): not_signed,
        token_for(new_call_id(), claimed.worker_id): not_signed,  # another call's token
        token_for(call_id, claimed.worker_id, ttl_s=-5): "call token expired",
        "v1.9999999999.not-a-mac": not_signed,
    }
    for token, reason in attempts.items():
        report = await place(router, claimed.address, call_id, token)
        assert (report.close_code, report.close_reason, report.turns) == (
            POLICY_VIOLATION,
            reason,
            [],
        ), token
    report = await place(router, claimed.address, call_id, None)
    assert (report.close_code, report.close_reason) == (
        POLICY_VIOLATION,
        "a per-call token is required",
    )
    # A token in the query string reaches the worker as sent, after other parameters.
    other_token = token_for(call_id, other_id)
    query = f"?lang=en%2DUS&call_id={call_id}&token={other_token}"
    async with connect(f"{routed_base(router, claimed.address)}/twilio/{BOT}{query}") as ws:
        for message in TwilioCarrier(f"CA{call_id}", {}).opening():
            await ws.send(message)
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert (ws.close_code, ws.close_reason) == (POLICY_VIOLATION, not_signed)

    assert seen[claimed.worker_id].refused(owner, "token") == len(attempts) + 2
    assert not any(r.call_id == call_id for r in owner.pending_results())
    reg = (await alloc.registrations([claimed.worker_id]))[claimed.worker_id]
    assert reg is not None and (reg.state, reg.call_id) == (WorkerState.BUSY, call_id)
    assert await alloc.redis.zscore(redis_keys.pool_active_calls(POOL), call_id) is not None
    saw_nothing(workers[other_id], seen[other_id])
    await alloc.release(claimed.worker_id, POOL, call_id)  # the claimed call never came


async def test_the_router_forwards_only_to_the_pod_network_and_worker_ports(
    router: NginxServer, workers: dict[str, WorkerProcess]
) -> None:
    port = next(iter(workers.values())).port
    async with httpx.AsyncClient(base_url=router.url, timeout=5) as client:
        assert (await client.get("/healthz")).text == "ok\n"
        for worker_id, host in HOSTS.items():
            health = (await client.get(f"/w/{host}/{port}/health")).json()
            assert (health["worker_id"], health["service"]) == (worker_id, "ori-worker")
        assert (await client.get(f"/w/169.254.169.254/{port}/latest")).status_code == 403
        assert (await client.get(f"/w/10.1.2.3/{port}/health")).status_code == 403
        assert (await client.get("/w/127.0.0.2/22/health")).status_code == 403
        assert (await client.get("/w/worker-0/8000/health")).status_code == 404
        assert (await client.get("/anything")).status_code == 404

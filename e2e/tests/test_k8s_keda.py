"""KEDA scales a FleetPool from Redis, on a real control plane with KEDA's own binaries.

The chart's ScaledObject (rendered by `helm template`, as installed) targets the pool's /scale
with a `redis` trigger on the pool's active-call sorted set and the formula `active + buffer`.
KEDA's operator does activation (0 <-> 1) itself; beyond that the HPA controller of
kube-controller-manager reads KEDA's metrics adapter through the aggregation layer. The Ori
operator then creates or retires worker pods (kwok), and `WorkerSimulator` heartbeats them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from redis.asyncio import Redis

from ori_contracts import redis_keys
from ori_contracts.allocation import ClaimOutcome, WorkerState
from ori_e2e.pytest_plugin import unique_name
from ori_e2e.servers import KubeCluster, RedisServer
from ori_e2e.servers.keda import KedaServer, start_keda
from ori_e2e.toolcache import find_binary, pinned_version
from ori_e2e.waiting import eventually
from ori_operator.allocator import Allocator
from ori_operator.kube import Kube
from ori_operator.testing import (
    KEDA_VERSION,
    Kubectl,
    OperatorProcess,
    WorkerSimulator,
    keda_crds_dir,
    repo_root,
)

pytestmark = pytest.mark.e2e

T = TypeVar("T")
POOL = "voice"
CHART = repo_root() / "charts" / "ori"
KEDA_API = "keda.sh/v1alpha1/ScaledObject"


@pytest.fixture(scope="module")
def cluster(kube: KubeCluster) -> Kubectl:
    assert pinned_version("keda") == KEDA_VERSION  # the binaries and the CRDs agree
    kubectl = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    kubectl.install_crds()
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(keda_crds_dir()))
    kube.wait_for_resource("keda.sh/v1alpha1", "scaledobjects")
    kube.restart_controller_manager()  # its garbage collector and HPA know FleetPools now
    return kubectl


@pytest.fixture
def namespace(kube: KubeCluster, cluster: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique_name(request, sep="-", limit=40)
    kube.create_namespace(name)
    yield name
    cluster.run("delete", "namespace", name, "--wait=false")


@pytest.fixture
def keda(
    kube: KubeCluster, cluster: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[KedaServer]:
    server = start_keda(kube, tmp_path / "keda", namespaces=[namespace])
    yield server
    server.stop()


@dataclass
class Pool:
    kubectl: Kubectl
    kube: Kube
    redis: Redis
    allocator: Allocator
    simulator: WorkerSimulator
    namespace: str

    def replicas(self) -> int:
        """`spec.replicas` as the /scale subresource answers it (what KEDA and the HPA write)."""
        path = f"/apis/ori.dev/v1alpha1/namespaces/{self.namespace}/fleetpools/{POOL}/scale"
        return int(json.loads(self.kubectl.run("get", "--raw", path))["spec"].get("replicas", 0))

    async def live_pods(self) -> list[dict[str, Any]]:
        pods = await self.kube.list_pods(self.namespace, f"ori.dev/fleetpool={POOL}")
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    async def running(self) -> int:
        return sum(p["status"].get("phase") == "Running" for p in await self.live_pods())

    async def status(self) -> dict[str, Any]:
        found = await self.kube.get_custom("fleetpools", self.namespace, POOL)
        assert found is not None
        return dict(found.get("status", {}))

    async def converged(self, workers: int, **status: int) -> dict[str, Any] | None:
        """The status once /scale says `workers` and that many pods run, else None."""
        if self.replicas() != workers or await self.running() != workers:
            return None
        current = await self.status()
        return current if all(current.get(k, 0) == v for k, v in status.items()) else None

    def install(self, redis_server: RedisServer, redis_url: str, spec: dict[str, Any]) -> None:
        """Render the chart's FleetPool and ScaledObject for this pool and apply them."""
        values = {"fleetPools": [{"name": POOL, "spec": spec}]}
        docs = render_chart(self.namespace, redis_server, redis_url, values)
        (fleetpool,) = [d for d in docs if d["kind"] == "FleetPool"]
        (scaled,) = [d for d in docs if d["kind"] == "ScaledObject"]
        # Tests only: the HPA's default 300 s scale-down stabilisation would outlast the test.
        behavior = {"scaleDown": {"stabilizationWindowSeconds": 0}}
        scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"] = {"behavior": behavior}
        self.kubectl.apply(yaml.safe_dump(fleetpool))
        self.kubectl.apply(yaml.safe_dump(scaled))


def render_chart(
    namespace: str, redis_server: RedisServer, redis_url: str, values: dict[str, Any]
) -> list[dict[str, Any]]:
    argv = ["template", "t", str(CHART), "--kube-version", "1.35.4", "--namespace", namespace]
    argv += ["--api-versions", KEDA_API, "--set", "redis.enabled=false"]
    argv += ["--set", f"redis.url={redis_url}"]
    argv += ["--set", f"redis.kedaAddress={redis_server.host}:{redis_server.port}"]
    out = subprocess.run(
        [str(find_binary("helm")), *argv, "-f", "-"],
        input=yaml.safe_dump(values),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture
async def pool(
    kube: KubeCluster, cluster: Kubectl, namespace: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Pool]:
    redis = Redis.from_url(redis_url)
    client = await Kube.connect(kube.kubeconfig)
    allocator = Allocator(redis)
    env = {"KUBECONFIG": str(kube.kubeconfig), "REDIS_URL": redis_url,
           "WATCH_NAMESPACES": namespace, "RECONCILE_INTERVAL_S": "0.5"}  # fmt: skip
    operator = OperatorProcess(env, tmp_path / "operator.log")
    operator.start()
    simulator = WorkerSimulator(client, allocator, namespace, POOL)
    stop = asyncio.Event()
    beating = asyncio.create_task(simulator.run(stop), name="worker-simulator")
    try:
        kubectl = cluster.in_namespace(namespace)
        yield Pool(kubectl, client, redis, allocator, simulator, namespace)
    finally:
        stop.set()
        await beating
        operator.stop()
        await client.close()
        await redis.aclose()


def pool_spec(*, idle_buffer: int, max_replicas: int) -> dict[str, Any]:
    keda = {"enabled": True, "polling_interval_s": 1, "cooldown_s": 2}
    return {"min_replicas": 0, "max_replicas": max_replicas, "idle_buffer": idle_buffer,
            "template": {"image": "ori-worker:dev"}, "keda": keda}  # fmt: skip


async def test_keda_activates_an_empty_pool_from_the_active_call_set_and_back_to_zero(
    pool: Pool, keda: KedaServer, redis_server: RedisServer, redis_url: str
) -> None:
    pool.install(redis_server, redis_url, pool_spec(idle_buffer=0, max_replicas=5))
    await eventually(lambda: _scaled_object(pool, Ready="True", Active="False"), "KEDA ready")
    assert pool.replicas() == 0 and await pool.running() == 0  # no calls, no buffer: nothing

    started = time.monotonic()
    async with published_call(pool, "call_ringing"):
        await eventually(lambda: _scaled_object(pool, Active="True"), "the ScaledObject active")
        status = await eventually(lambda: pool.converged(1, idle=1), "KEDA activated 1 worker")
        activated_s = time.monotonic() - started
        assert status["desired"] == 1
    started = time.monotonic()
    await eventually(lambda: pool.converged(0, replicas=0), "KEDA scaled back to 0", within_s=40)
    assert await pool.live_pods() == []
    print(f"\nactivation 0->1 (call published to worker Running): {activated_s:.1f} s; "
          f"deactivation 1->0 (cooldown 2 s): {time.monotonic() - started:.1f} s")  # fmt: skip


async def test_hpa_keeps_active_calls_plus_buffer_workers_through_the_metrics_adapter(
    pool: Pool, keda: KedaServer, redis_server: RedisServer, redis_url: str
) -> None:
    pool.install(redis_server, redis_url, pool_spec(idle_buffer=1, max_replicas=8))
    # active + 1 is 1 with no calls: KEDA activates at once and keeps one warm worker.
    await eventually(lambda: pool.converged(1, idle=1), "one warm worker")
    calls: dict[str, str] = {}
    started = time.monotonic()
    for busy in range(1, 5):  # each call finds the warm worker; KEDA and the HPA add the next
        claim = await pool.allocator.claim(POOL, f"call_{busy}")
        assert claim.outcome is ClaimOutcome.CLAIMED, f"call_{busy} found no idle worker"
        calls[str(claim.worker_id)] = f"call_{busy}"
        await eventually(partial(pool.converged, busy + 1, busy=busy, idle=1), f"{busy} + 1")
    scaled_up_s = time.monotonic() - started
    assert await external_metric(pool) == 4 + 1  # what the HPA read through the aggregator
    hpa = pool.kubectl.json("get", "hpa", f"keda-hpa-{POOL}")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "FleetPool"
    assert hpa["status"]["desiredReplicas"] == 5  # the HPA, not KEDA's operator, scaled 1 -> 5

    started = time.monotonic()
    ended = list(calls.items())[:3]
    for worker, call in ended:
        assert await pool.allocator.release(worker, POOL, call) is WorkerState.IDLE
    await eventually(lambda: pool.converged(2, busy=1, idle=1), "2 workers left", within_s=40)
    (kept,) = set(calls) - {worker for worker, _ in ended}
    assert kept in {p["metadata"]["name"] for p in await pool.live_pods()}  # busy one stays
    print(f"\nHPA path: 4 calls one by one, 1 -> 5 workers: {scaled_up_s:.1f} s; "
          f"3 calls end, 5 -> 2: {time.monotonic() - started:.1f} s")  # fmt: skip


@contextlib.asynccontextmanager
async def published_call(pool: Pool, call_id: str) -> AsyncIterator[None]:
    """Hold `call_id` in the pool's active-call set, its score refreshed as a worker would."""
    key = redis_keys.pool_active_calls(POOL)
    stop = asyncio.Event()

    async def refresh() -> None:
        while not stop.is_set():
            seconds, micros = await pool.redis.time()
            await pool.redis.zadd(key, {call_id: seconds + micros / 1e6})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)

    task = asyncio.create_task(refresh(), name=f"publish-{call_id}")
    try:
        yield
    finally:
        stop.set()
        await task
        await pool.redis.zrem(key, call_id)


async def external_metric(pool: Pool) -> float:
    """The value KEDA's adapter serves for the pool's HPA, read through kube-apiserver."""
    hpa = pool.kubectl.json("get", "hpa", f"keda-hpa-{POOL}")
    (metric,) = hpa["spec"]["metrics"]
    name = metric["external"]["metric"]["name"]
    path = (
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{pool.namespace}/{name}"
        f"?labelSelector=scaledobject.keda.sh%2Fname%3D{POOL}"
    )
    (item,) = json.loads(pool.kubectl.run("get", "--raw", path))["items"]
    return _quantity(item["value"])


def _quantity(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


async def _scaled_object(pool: Pool, **conditions: str) -> bool:
    found = pool.kubectl.json("get", "scaledobject", POOL)
    current = {c["type"]: c["status"] for c in found.get("status", {}).get("conditions", [])}
    return all(current.get(k) == v for k, v in conditions.items())

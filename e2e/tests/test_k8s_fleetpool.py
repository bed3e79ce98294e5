"""FleetPool on a real control plane: the operator owns single-call worker pods.

kwok runs no containers, so `WorkerSimulator` plays each pod's worker: it heartbeats the pod's
Redis registration exactly as a worker does. Calls are claimed and released through the same
scripts the backend, dialler and worker use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis

from ori_contracts.allocation import ClaimOutcome, WorkerState
from ori_e2e.pytest_plugin import unique_name
from ori_e2e.servers import KubeCluster
from ori_e2e.toolcache import find_binary
from ori_e2e.waiting import eventually
from ori_operator.allocator import Allocator
from ori_operator.kube import Kube
from ori_operator.testing import Kubectl, OperatorProcess, WorkerSimulator

pytestmark = pytest.mark.e2e

T = TypeVar("T")
POOL = "voice"


def operator_for(
    kube: KubeCluster, namespace: str, redis_url: str, log_dir: Path
) -> OperatorProcess:
    env = {
        "KUBECONFIG": str(kube.kubeconfig),
        "REDIS_URL": redis_url,
        "WATCH_NAMESPACES": namespace,
        "RECONCILE_INTERVAL_S": "0.5",
        "LOG_LEVEL": "INFO",
    }
    return OperatorProcess(env, log_dir / "operator.log")


@dataclass
class Pool:
    kubectl: Kubectl
    kube: Kube
    allocator: Allocator
    simulator: WorkerSimulator
    operator: OperatorProcess

    async def pods(self) -> list[dict[str, Any]]:
        return await self.kube.list_pods(self.simulator.namespace, f"ori.dev/fleetpool={POOL}")

    async def live_pods(self) -> list[dict[str, Any]]:
        return [p for p in await self.pods() if not p["metadata"].get("deletionTimestamp")]

    async def running(self) -> int:
        return sum(p["status"].get("phase") == "Running" for p in await self.live_pods())

    async def status(self) -> dict[str, Any]:
        found = await self.kube.get_custom("fleetpools", self.simulator.namespace, POOL)
        assert found is not None
        return dict(found.get("status", {}))

    def apply(self, **spec: Any) -> None:
        fields = "\n".join(f"  {k}: {v}" for k, v in spec.items())
        self.kubectl.apply(
            f"apiVersion: ori.dev/v1alpha1\nkind: FleetPool\nmetadata:\n  name: {POOL}\n"
            f"spec:\n{fields}\n  template:\n    image: ori-worker:dev\n"
        )

    def scale(self, replicas: int) -> None:
        self.kubectl.run("scale", f"fleetpool/{POOL}", f"--replicas={replicas}")


@pytest.fixture(scope="module")
def cluster(kube: KubeCluster) -> Kubectl:
    kubectl = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    kubectl.install_crds()
    kube.restart_controller_manager()  # so its garbage collector knows FleetPool owners
    return kubectl


@pytest.fixture
def namespace(kube: KubeCluster, cluster: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique_name(request, sep="-", limit=40)
    kube.create_namespace(name)
    yield name
    cluster.run("delete", "namespace", name, "--wait=false")


@pytest.fixture
async def pool(
    kube: KubeCluster,
    cluster: Kubectl,
    namespace: str,
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[Pool]:
    redis = Redis.from_url(redis_url)
    client = await Kube.connect(kube.kubeconfig)
    allocator = Allocator(redis)
    operator = operator_for(kube, namespace, redis_url, tmp_path)
    operator.start()
    simulator = WorkerSimulator(client, allocator, namespace, POOL)
    stop = asyncio.Event()
    beating = asyncio.create_task(simulator.run(stop), name="worker-simulator")
    try:
        yield Pool(cluster.in_namespace(namespace), client, allocator, simulator, operator)
    finally:
        stop.set()
        await beating
        operator.stop()
        await client.close()
        await redis.aclose()


async def test_replicas_make_running_workers_and_kubectl_scale_moves_them(pool: Pool) -> None:
    pool.apply(replicas=5, max_replicas=20)
    await eventually(lambda: _equals(pool.running, 5), "5 worker pods Running")
    status = await eventually(lambda: _status_with(pool, replicas=5, ready=5, idle=5), "5 idle")
    assert status["selector"] == f"ori.dev/fleetpool={POOL}"
    pool.scale(8)
    await eventually(lambda: _status_with(pool, replicas=8, idle=8), "8 idle workers")
    pool.scale(3)
    await eventually(lambda: _equals(pool.running, 3), "scale-down to 3 pods")
    assert len(await pool.pods()) <= 3 + 5  # deleted pods are gone or terminating, none extra


async def test_scale_down_never_deletes_a_busy_worker_they_drain_then_go(pool: Pool) -> None:
    pool.apply(replicas=5, max_replicas=20)
    await eventually(lambda: _status_with(pool, replicas=5, idle=5), "5 idle workers")
    claims = [await pool.allocator.claim(POOL, f"call_{i}") for i in range(3)]
    assert all(c.outcome is ClaimOutcome.CLAIMED for c in claims)
    busy = {str(c.worker_id): f"call_{i}" for i, c in enumerate(claims)}
    await eventually(lambda: _status_with(pool, busy=3, idle=2), "3 busy workers")

    pool.scale(1)
    status = await eventually(
        lambda: _status_with(pool, replicas=1, busy=1, draining=2, idle=0),
        "2 draining",
        within_s=20,
    )
    assert status["desired"] == 1
    for _ in range(10):  # a while of reconciling: every busy worker is still there
        await _assert_alive(pool, busy)
        await asyncio.sleep(0.3)
    labelled = pool.kubectl.json("get", "pods", "-l", "ori.dev/draining=true")
    draining = {p["metadata"]["name"] for p in labelled["items"]}
    assert len(draining) == 2
    assert draining <= set(busy)

    for worker in sorted(draining):
        assert await pool.allocator.release(worker, POOL, busy[worker]) is WorkerState.RETIRED
    await eventually(lambda: _gone(pool, draining), "drained workers deleted")
    await eventually(lambda: _status_with(pool, replicas=1, busy=1, draining=0), "1 busy left")
    (last,) = set(busy) - draining
    await _assert_alive(pool, {last: busy[last]})
    assert await pool.allocator.release(last, POOL, busy[last]) is WorkerState.IDLE
    await eventually(lambda: _status_with(pool, replicas=1, idle=1, busy=0), "1 idle worker")


async def test_killing_the_operator_mid_reconcile_converges_after_restart(pool: Pool) -> None:
    pool.apply(replicas=0, max_replicas=40)
    await eventually(lambda: _status_with(pool, replicas=0), "empty pool")
    pool.scale(30)
    await eventually(lambda: _at_least(pool.pods, 1), "creation under way", within_s=10)
    pool.operator.kill()
    created_before_kill = len(await pool.pods())
    pool.operator.start()
    await eventually(lambda: _equals(pool.running, 30), "30 pods after restart", within_s=60)
    await eventually(lambda: _status_with(pool, replicas=30, ready=30), "status 30/30")
    await asyncio.sleep(2)  # more passes must not add pods
    assert len(await pool.live_pods()) == 30
    assert created_before_kill <= 30


async def test_gitops_reapply_leaves_replicas_as_the_autoscaler_set_them(pool: Pool) -> None:
    manifest = (
        f"apiVersion: ori.dev/v1alpha1\nkind: FleetPool\nmetadata:\n  name: {POOL}\n"
        "spec:\n  min_replicas: 2\n  max_replicas: 10\n  template:\n    image: ori-worker:dev\n"
    )
    pool.kubectl.apply(manifest)
    await eventually(lambda: _status_with(pool, replicas=2, desired=2), "min_replicas workers")
    pool.scale(4)  # what KEDA does, through /scale
    await eventually(lambda: _status_with(pool, replicas=4), "4 workers")
    pool.kubectl.apply(manifest)
    pool.kubectl.apply(manifest, server_side=True)
    stored = pool.kubectl.json("get", "fleetpool", POOL)
    assert stored["spec"]["replicas"] == 4
    await asyncio.sleep(1.5)
    assert (await pool.status())["replicas"] == 4


async def test_deleting_a_pool_collects_its_pods_and_metrics_count_reconciles(pool: Pool) -> None:
    pool.apply(replicas=3)
    await eventually(lambda: _equals(pool.running, 3), "3 pods")
    pod_names = {p["metadata"]["name"] for p in await pool.pods()}
    metrics = pool.operator.metrics()
    assert 'ori_operator_reconcile_total{kind="FleetPool",outcome="ok"}' in metrics
    assert "ori_operator_reconcile_duration_seconds_bucket" in metrics
    pool.kubectl.run("delete", "fleetpool", POOL)
    await eventually(lambda: _gone(pool, pod_names), "pods garbage-collected", within_s=60)


async def _equals(get: Callable[[], Awaitable[int]], expected: int) -> bool:
    return await get() == expected


async def _at_least(get: Callable[[], Awaitable[list[Any]]], count: int) -> bool:
    return len(await get()) >= count


async def _status_with(pool: Pool, **expected: int) -> dict[str, Any] | None:
    status = await pool.status()
    return status if all(status.get(k, 0) == v for k, v in expected.items()) else None


async def _gone(pool: Pool, names: set[str]) -> bool:
    return not names & {p["metadata"]["name"] for p in await pool.pods()}


async def _assert_alive(pool: Pool, busy: dict[str, str]) -> None:
    pods = {p["metadata"]["name"]: p for p in await pool.pods()}
    for worker in busy:
        assert worker in pods, f"busy worker {worker} was deleted"
        assert not pods[worker]["metadata"].get("deletionTimestamp"), f"{worker} is terminating"

"""A standby operator on a real control plane: kopf peering keeps exactly one replica acting.

Two `ori-operator` processes share one `KopfPeering` object, as the chart's `operator.standby`
runs them (priorities 100 and 50). While both live, only the higher one reconciles: the pool's
pods are all its work, the standby counts no reconcile and creates nothing. SIGKILL of the
active one (no clean-up, its keep-alive left behind) lets the standby take over once that
keep-alive expires (`OPERATOR_PEERING_LIFETIME_S`), and it converges the pool to a scale made
while nobody was acting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ori_e2e.pytest_plugin import unique_name
from ori_e2e.servers import KubeCluster
from ori_e2e.toolcache import find_binary
from ori_e2e.waiting import eventually
from ori_operator.testing import Kubectl, OperatorProcess

pytestmark = pytest.mark.e2e

T = TypeVar("T")
PEERING, POOL = "ori-operator", "voice"
LIFETIME_S = 10  # the keep-alive lifetime: the standby takes over within it (plus one pass)


def metric(process: OperatorProcess, name: str, **labels: str) -> float:
    """One sample of the process's own metrics (0 when it was never recorded)."""
    wanted = frozenset(labels.items())
    for family in text_string_to_metric_families(process.metrics()):
        for sample in family.samples:
            if sample.name == name and frozenset(sample.labels.items()) == wanted:
                return float(sample.value)
    return 0.0


def reconciles(process: OperatorProcess) -> float:
    return metric(process, "ori_operator_reconcile_total", kind="FleetPool", outcome="ok")


def creates(process: OperatorProcess) -> float:
    return metric(process, "ori_operator_pod_actions_total", action="create")


@pytest.fixture
def kubectl(kube: KubeCluster, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    cluster = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    cluster.install_crds()  # Ori's and kopf's peering CRDs (crds/)
    cluster.run("wait", "--for=condition=Established", "--timeout=60s",
                "crd/kopfpeerings.kopf.dev")  # fmt: skip
    namespace = unique_name(request, sep="-", limit=40)
    kube.create_namespace(namespace)
    yield cluster.in_namespace(namespace)
    cluster.run("delete", "namespace", namespace, "--wait=false")


def replica(
    kube: KubeCluster, kubectl: Kubectl, redis_url: str, log: Path, priority: int
) -> OperatorProcess:
    env = {
        "KUBECONFIG": str(kube.kubeconfig),
        "REDIS_URL": redis_url,
        "WATCH_NAMESPACES": kubectl.namespace or "",
        "RECONCILE_INTERVAL_S": "0.5",
        "OPERATOR_PEERING": PEERING,
        "OPERATOR_PRIORITY": str(priority),
        "OPERATOR_PEERING_LIFETIME_S": str(LIFETIME_S),
        "LOG_LEVEL": "INFO",
    }
    return OperatorProcess(env, log)


def peers(kubectl: Kubectl) -> dict[str, Any]:
    status: dict[str, Any] = kubectl.json("get", "kopfpeering", PEERING).get("status") or {}
    return status


def running_pods(kubectl: Kubectl) -> list[str]:
    pods = kubectl.json("get", "pods", "-l", f"ori.dev/fleetpool={POOL}")["items"]
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    )


async def test_only_the_active_replica_acts_and_the_standby_takes_over_when_it_dies(
    kube: KubeCluster, kubectl: Kubectl, redis_url: str, tmp_path: Path
) -> None:
    kubectl.apply(f"apiVersion: kopf.dev/v1\nkind: KopfPeering\nmetadata:\n  name: {PEERING}\n")
    active = replica(kube, kubectl, redis_url, tmp_path / "active.log", priority=100)
    standby = replica(kube, kubectl, redis_url, tmp_path / "standby.log", priority=50)
    active.start()
    try:
        await eventually(lambda: _count(peers(kubectl), 1), "the active replica's keep-alive")
        standby.start()
        both = await eventually(lambda: _count(peers(kubectl), 2), "both keep-alives")
        assert sorted(p["priority"] for p in both.values()) == [50, 100]

        kubectl.apply(
            f"apiVersion: ori.dev/v1alpha1\nkind: FleetPool\nmetadata:\n  name: {POOL}\n"
            "spec:\n  replicas: 3\n  max_replicas: 10\n  template:\n    image: ori-worker:dev\n"
        )
        await eventually(lambda: _equals(running_pods(kubectl), 3), "3 Running worker pods")
        await asyncio.sleep(2)  # a few more passes of the active one (RECONCILE_INTERVAL_S 0.5)
        assert (creates(active), reconciles(active) > 0) == (3, True)
        assert (creates(standby), reconciles(standby)) == (0, 0)  # it stood by throughout

        active.kill()  # SIGKILL: its keep-alive stays in the peering object until it expires
        kubectl.run("scale", f"fleetpool/{POOL}", "--replicas=5")
        within = LIFETIME_S + 30  # expiry, the standby's resumed watches, one pass
        await eventually(lambda: _equals(running_pods(kubectl), 5), "5 pods", within_s=within)
        assert (creates(standby), reconciles(standby) > 0) == (2, True)
        await asyncio.sleep(2)  # and it holds there: nothing more is created
        assert len(running_pods(kubectl)) == 5
        assert creates(standby) == 2
        assert "Resuming operations after the pause" in (tmp_path / "standby.log").read_text()
    finally:
        standby.stop()
        active.stop()


async def _count(found: dict[str, Any], wanted: int) -> dict[str, Any] | None:
    return found if len(found) == wanted else None


async def _equals(found: list[str], wanted: int) -> list[str] | None:
    return found if len(found) == wanted else None

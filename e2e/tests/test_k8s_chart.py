"""The Helm chart: lint, values schema, KEDA wiring, and the real API server's verdict."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ori_contracts import redis_keys
from ori_contracts.crds import FleetPoolKeda, FleetPoolSpec
from ori_e2e.pytest_plugin import unique_name
from ori_e2e.servers import KubeCluster
from ori_e2e.toolcache import find_binary
from ori_operator.testing import Kubectl, KubectlError, keda_crds_dir, repo_root

pytestmark = pytest.mark.integration

CHART = repo_root() / "charts" / "ori"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
KUBE_VERSION = "1.35.4"
KEDA_API = "keda.sh/v1alpha1/ScaledObject"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_binary("helm")), *args], capture_output=True, text=True, check=check
    )


def render(*args: str) -> list[dict[str, Any]]:
    out = helm("template", "t", str(CHART), "--kube-version", KUBE_VERSION, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_helm_lint_is_clean(values: Path | None) -> None:
    extra = ["-f", str(values)] if values else []
    result = helm("lint", "--strict", str(CHART), *extra, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_values_schema_refuses_bad_values_readably() -> None:
    bad = helm("template", "t", str(CHART), "--kube-version", KUBE_VERSION,
               "--set", "router.workerCIDRs={everywhere}", check=False)  # fmt: skip
    assert bad.returncode != 0
    assert "workerCIDRs" in bad.stderr and "does not match pattern" in bad.stderr
    pool = ["--set", "fleetPools[0].name=x", "--set", "fleetPools[0].spec.replicas=3",
            "--set", "fleetPools[0].spec.template.image=w",
            "--set", "fleetPools[0].spec.keda.enabled=true"]  # fmt: skip
    keda_and_replicas = helm(
        "template", "t", str(CHART), "--kube-version", KUBE_VERSION, *pool, check=False
    )
    assert "leave spec.replicas out when spec.keda.enabled is true" in keda_and_replicas.stderr


def test_scaled_object_targets_the_pool_scale_with_active_plus_buffer() -> None:
    docs = render("--api-versions", KEDA_API)
    (pool,) = of_kind(docs, "FleetPool")
    (scaled,) = of_kind(docs, "ScaledObject")
    spec = FleetPoolSpec.model_validate(pool["spec"])  # the chart's pool is a valid FleetPool
    # KEDA owns it; /scale needs it to exist, so the chart starts it (helm upgrade never resets it)
    assert pool["spec"]["replicas"] == spec.min_replicas
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "ori.dev/v1alpha1",
        "kind": "FleetPool",
        "name": pool["metadata"]["name"],
    }
    assert scaled["spec"]["minReplicaCount"] == spec.min_replicas
    assert scaled["spec"]["maxReplicaCount"] == spec.max_replicas
    assert scaled["spec"]["pollingInterval"] == spec.keda.polling_interval_s
    modifiers = scaled["spec"]["advanced"]["scalingModifiers"]
    assert modifiers == {"formula": f"active + {spec.idle_buffer}", "target": "1",
                         "metricType": "AverageValue"}  # fmt: skip
    (trigger,) = scaled["spec"]["triggers"]
    assert (trigger["type"], trigger["name"]) == ("redis", "active")
    assert trigger["metadata"]["listName"] == redis_keys.pool_active_calls(pool["metadata"]["name"])


def test_scaled_object_defaults_are_the_fleetpool_defaults() -> None:
    minimal = ["--set", "fleetPools[0].name=p", "--set", "fleetPools[0].spec.template.image=w",
               "--set", "fleetPools[0].spec.keda.enabled=true"]  # fmt: skip
    (scaled,) = of_kind(render("--api-versions", KEDA_API, *minimal), "ScaledObject")
    defaults = FleetPoolSpec.model_validate({"template": {"image": "w"}})
    assert scaled["spec"]["minReplicaCount"] == defaults.min_replicas
    assert scaled["spec"]["maxReplicaCount"] == defaults.max_replicas
    assert scaled["spec"]["advanced"]["scalingModifiers"]["formula"] == (
        f"active + {defaults.idle_buffer}"
    )
    assert scaled["spec"]["pollingInterval"] == FleetPoolKeda().polling_interval_s
    assert scaled["spec"]["cooldownPeriod"] == FleetPoolKeda().cooldown_s


def test_no_scaled_object_without_keda_unless_asked() -> None:
    assert of_kind(render(), "ScaledObject") == []
    assert of_kind(render("--set", "keda.scaledObjects=always"), "ScaledObject")


def test_operator_rbac_is_least_privilege() -> None:
    docs = render()
    (role,) = of_kind(docs, "ClusterRole")
    granted = {
        (g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    assert ("", "pods") in granted
    assert ("ori.dev", "fleetpools/status") in granted
    assert not {r for _, r in granted} & {"customresourcedefinitions", "nodes", "*"}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        if "secrets" in rule["resources"]:  # a Campaign's contact list, by name only
            assert rule["verbs"] == ["get"]
    namespaced = render("--set", "operator.watchNamespaces={ori}")
    assert of_kind(namespaced, "ClusterRole") == []
    assert [r["metadata"]["namespace"] for r in of_kind(namespaced, "Role")] == ["ori"]


def test_standby_runs_a_second_operator_at_a_lower_priority() -> None:
    docs = render("--set", "operator.standby=true")
    operators = [d for d in of_kind(docs, "Deployment") if "operator" in d["metadata"]["name"]]
    priorities = sorted(
        next(e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
             if e["name"] == "OPERATOR_PRIORITY")
        for d in operators
    )  # fmt: skip
    assert priorities == ["100", "50"]
    assert of_kind(docs, "ClusterKopfPeering")


# ------------------------------------------------------------------ on the real API server


@pytest.fixture(scope="module")
def cluster(kube: KubeCluster) -> Kubectl:
    kubectl = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    kubectl.install_crds()
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(keda_crds_dir()))
    kube.wait_for_resource("keda.sh/v1alpha1", "scaledobjects")
    return kubectl


@pytest.fixture
def namespace(kube: KubeCluster, cluster: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique_name(request, sep="-", limit=40)
    kube.create_namespace(name)
    yield name
    cluster.run("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_every_rendered_object_passes_server_side_dry_run(
    cluster: Kubectl, kube: KubeCluster, namespace: str, values: Path | None
) -> None:
    for extra_namespace in ("ori", "ori-staging"):  # watched by ci/full-values.yaml
        if extra_namespace not in cluster.run("get", "namespaces", "-o", "name"):
            kube.create_namespace(extra_namespace)
    extra = ["-f", str(values)] if values else []
    docs = render("--namespace", namespace, "--api-versions", KEDA_API, *extra)
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:  # Roles of watched namespaces name their own namespace
        by_namespace.setdefault(doc["metadata"].get("namespace", namespace), []).append(doc)
    out = ""
    for target, group in by_namespace.items():
        out += cluster.in_namespace(target).run(
            "apply", "--dry-run=server", "--server-side", "-f", "-",
            stdin=yaml.safe_dump_all(group),
        )  # fmt: skip
    assert "scaledobject.keda.sh/default serverside-applied (server dry run)" in out
    assert "fleetpool.ori.dev/default serverside-applied (server dry run)" in out


def test_a_scaled_object_with_a_bad_trigger_is_refused_by_keda_crds(
    cluster: Kubectl, namespace: str
) -> None:
    docs = render("--api-versions", KEDA_API)
    (scaled,) = of_kind(docs, "ScaledObject")
    scaled["spec"]["advanced"]["scalingModifiers"]["metricType"] = "Utilisation"
    with pytest.raises(KubectlError, match="metricType"):
        cluster.in_namespace(namespace).run(
            "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(scaled)
        )


def test_helm_install_creates_everything_and_upgrade_keeps_keda_replicas(
    cluster: Kubectl, kube: KubeCluster, namespace: str
) -> None:
    kubeconfig = ["--kubeconfig", str(kube.kubeconfig), "--namespace", namespace]
    install = helm("install", "ori", str(CHART), *kubeconfig, check=False)
    assert install.returncode == 0, install.stderr
    assert "helm test ori" in install.stdout  # NOTES.txt
    kubectl = cluster.in_namespace(namespace)
    names = kubectl.run("get", "deployments,services,fleetpools,scaledobjects", "-o", "name")
    for expected in ("deployment.apps/ori-operator", "deployment.apps/ori-backend",
                     "deployment.apps/ori-router",
                     "service/ori-router", "fleetpool.ori.dev/default",
                     "scaledobject.keda.sh/default"):  # fmt: skip
        assert expected in names
    assert "deployment.apps/ori-console" not in names  # off until the console image ships
    account = f"system:serviceaccount:{namespace}:ori-operator"
    assert kubectl.run("auth", "can-i", "delete", "pods", "--as", account).strip() == "yes"
    with pytest.raises(KubectlError):
        kubectl.run("auth", "can-i", "list", "secrets", "--as", account)
    with pytest.raises(KubectlError):
        kubectl.run("auth", "can-i", "create", "deployments", "--as", account)

    kubectl.run("scale", "fleetpool/default", "--replicas=7")  # as KEDA would
    upgrade = helm("upgrade", "ori", str(CHART), *kubeconfig, "--set", "backend.replicas=2")
    assert upgrade.returncode == 0
    assert kubectl.json("get", "fleetpool", "default")["spec"]["replicas"] == 7
    secret = kubectl.json("get", "secret", "ori-secrets")["data"]
    again = helm("upgrade", "ori", str(CHART), *kubeconfig)
    assert again.returncode == 0
    assert kubectl.json("get", "secret", "ori-secrets")["data"] == secret  # kept, not rotated

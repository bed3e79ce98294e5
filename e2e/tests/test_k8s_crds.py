"""Ori's CRDs on a real kube-apiserver: samples apply, invalid samples fail readably."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ori_e2e.pytest_plugin import unique_name
from ori_e2e.servers import KubeCluster
from ori_e2e.toolcache import find_binary
from ori_operator.testing import CRDS_DIR, Kubectl, KubectlError

pytestmark = pytest.mark.integration

INVALID = sorted((CRDS_DIR / "samples" / "invalid").glob("*.yaml"))


@pytest.fixture
def kubectl(kube: KubeCluster, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    cluster = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    cluster.install_crds()
    namespace = unique_name(request, sep="-", limit=40)
    kube.create_namespace(namespace)
    yield cluster.in_namespace(namespace)
    cluster.run("delete", "namespace", namespace, "--wait=false")


def test_samples_apply_and_print_their_columns(kubectl: Kubectl) -> None:
    out = kubectl.apply(CRDS_DIR / "samples")
    assert "bot.ori.dev/front-desk created" in out
    assert "fleetpool.ori.dev/default created" in out
    assert "campaign.ori.dev/spring-recall created" in out
    table = kubectl.run("get", "bots", "-o", "wide")
    assert table.split("\n")[0].split()[:4] == ["NAME", "DISPLAY", "NAME", "LLM"]
    assert "front-desk" in kubectl.run("get", "ori")  # the `ori` category lists every kind
    assert "default" in kubectl.run("get", "fp")  # short name


@pytest.mark.parametrize("sample", INVALID, ids=lambda p: p.stem)
def test_invalid_sample_is_rejected_with_a_readable_error(kubectl: Kubectl, sample: Path) -> None:
    expected = sample.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(KubectlError) as rejected:
        kubectl.apply(sample)
    assert "is invalid" in rejected.value.stderr
    assert expected in rejected.value.stderr


def test_scale_subresource_refuses_out_of_bounds_replicas(kubectl: Kubectl) -> None:
    kubectl.apply(CRDS_DIR / "samples" / "fleetpool.yaml")
    kubectl.run("scale", "fleetpool/default", "--replicas=7")
    scale = json.loads(kubectl.run("get", "--raw", _scale_path(kubectl)))
    assert scale["spec"]["replicas"] == 7
    with pytest.raises(
        KubectlError, match="replicas must be between min_replicas and max_replicas"
    ):
        kubectl.run("scale", "fleetpool/default", "--replicas=51")


def test_unknown_fields_are_refused_not_silently_dropped(kubectl: Kubectl) -> None:
    text = (CRDS_DIR / "samples" / "fleetpool.yaml").read_text()
    with pytest.raises(KubectlError, match=r'unknown field "spec.template.apiKey"'):
        kubectl.apply(text.replace("    image:", "    apiKey: sk-123\n    image:"))


def _scale_path(kubectl: Kubectl) -> str:
    return f"/apis/ori.dev/v1alpha1/namespaces/{kubectl.namespace}/fleetpools/default/scale"

"""The Tiltfile, evaluated by real Tilt (`tilt alpha tiltfile-result`, no Docker needed).

Tilt runs the Tiltfile as `tilt up` would (helm template, docker_build, k8s_kind, the
config flags) and prints what it would build and deploy, which these tests check: every image
from its own Dockerfile with a context that holds what the Dockerfile copies, the chart's
objects and CRDs, the FleetPool's image path, worker settings that validate, secrets that stay
put between evaluations, KEDA opt-in, and the objects passing the API server's dry run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ori_contracts.crds import FleetPoolSpec
from ori_e2e.servers import KubeCluster
from ori_e2e.toolcache import find_binary
from ori_operator.reconcile.pods import WORKER_CONTAINER, worker_pod
from ori_operator.testing import Kubectl, keda_crds_dir, repo_root
from ori_worker.settings import WorkerSettings

pytestmark = pytest.mark.e2e

REPO = repo_root()
REGISTRY = "ori.local"
#: image -> the workspace member whose Dockerfile builds it
MEMBERS = {
    "backend": "images/backend",
    "worker": "images/worker",
    "dialler": "images/dialler",
    "operator": "operator",
}
POOL = "fleetpool-default"  # the Tilt resource of the chart's FleetPool `default`
DIALLER_VALUES = {
    "dialler": {
        "enabled": True,
        "livekit": {"url": "wss://livekit.invalid", "trunkId": "ST_t", "existingSecret": "lk"},
    }
}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """One Tilt resource: its image builds (by image name) and its Kubernetes objects."""

    images: dict[str, Manifest]
    objects: list[Manifest]
    image_locators: list[Manifest]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [
            o for o in self.objects if o["kind"] == kind and name in (None, o["metadata"]["name"])
        ]
        assert len(found) == 1, f"{kind} {name}: {[o['metadata']['name'] for o in found]}"
        return found[0]


@dataclass(frozen=True)
class Tilt:
    """The pinned tilt binary with a home, kubeconfig and secrets file of its own."""

    binary: Path
    env: dict[str, str]
    workdir: Path

    def run(self, *flags: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), "alpha", "tiltfile-result", "-f", str(REPO / "Tiltfile")]
        return subprocess.run(  # noqa: S603 - the pinned binary with our own arguments
            [*argv, "--", *flags], cwd=REPO, env=self.env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def evaluate(self, *flags: str) -> dict[str, Resource]:
        done = self.run(*flags)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["Error"] is None
        return {m["Name"]: _resource(m) for m in result["Manifests"]}


def _resource(manifest: Manifest) -> Resource:
    images = {
        t["selector"].removeprefix(f"{REGISTRY}/ori-"): t for t in manifest["ImageTargets"] or []
    }
    text = manifest["DeployTarget"].get("yaml", "")
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    return Resource(images, objects, manifest["DeployTarget"].get("imageLocators") or [])


def _kubeconfig(kube: KubeCluster, context: str, path: Path) -> Path:
    """The test control plane's kubeconfig with its one context renamed (Tilt allows a few)."""
    config = json.loads(kube.kubeconfig.read_text())
    config["contexts"][0]["name"] = config["current-context"] = context
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def tilt(kube: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Tilt:
    work = tmp_path_factory.mktemp("tilt")
    helm_dir = find_binary("helm").parent  # Tilt's helm() runs `helm` from PATH
    env = {
        **os.environ,
        "PATH": f"{helm_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(work / "home"),
        "XDG_CONFIG_HOME": str(work / "xdg"),
        "KUBECONFIG": str(_kubeconfig(kube, "kind-ori", work / "kubeconfig")),
        "ORI_TILT_SECRETS": str(work / "secrets.yaml"),
    }
    return Tilt(find_binary("tilt"), env, work)


@pytest.fixture(scope="module")
def default(tilt: Tilt) -> dict[str, Resource]:
    return tilt.evaluate()


def _only_paths(target: Manifest) -> set[str]:
    """The repository paths Tilt sends as the build context (`only=`), from its ignore rules."""
    (rule,) = [r for r in target["BuildDetails"]["contextIgnores"] if r.get("patterns")]
    assert rule["basePath"] == str(REPO) and rule["patterns"][0] == "**"
    return {p.removeprefix("!") for p in rule["patterns"][1:]}


def _copied_sources(dockerfile: str) -> set[str]:
    """Every context path a Dockerfile COPYs (not `COPY --from` another stage)."""
    sources: set[str] = set()
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources |= {w for w in words[1:-1] if not w.startswith("--")}
    return sources


def test_images_build_from_their_dockerfiles_with_what_they_copy(
    tilt: Tilt, default: dict[str, Resource]
) -> None:
    values = tilt.workdir / "dialler.yaml"
    values.write_text(yaml.safe_dump(DIALLER_VALUES))
    with_dialler = tilt.evaluate("--values", str(values))
    builds = {name: t for r in with_dialler.values() for name, t in r.images.items()}
    assert builds.keys() == MEMBERS.keys()
    for name, target in builds.items():
        dockerfile = REPO / MEMBERS[name] / "Dockerfile"
        assert target["BuildDetails"]["context"] == str(REPO)
        assert target["BuildDetails"]["dockerfileContents"] == dockerfile.read_text()
        only = _only_paths(target)
        assert MEMBERS[name] in only
        copied = _copied_sources(dockerfile.read_text())
        assert len(copied) >= 8, copied  # the lockfile, every member's manifest, the code
        uncovered = {s for s in copied if not any(s == p or s.startswith(p + "/") for p in only)}
        assert not uncovered, f"{name}: COPY of paths outside `only`: {uncovered}"
    # Off by default (it needs a LiveKit SIP trunk), so not built: Tilt would warn about it.
    assert {name for r in default.values() for name in r.images} == MEMBERS.keys() - {"dialler"}


def test_the_chart_deploys_the_control_plane_crds_and_the_pool(
    default: dict[str, Resource],
) -> None:
    for name in ("ori-operator", "ori-backend", "ori-router"):
        deployment = default[name].one("Deployment", name)
        component = name.removeprefix("ori-")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        if component in MEMBERS:
            assert container["image"] == f"{REGISTRY}/ori-{component}:dev"
            assert component in default[name].images  # Tilt swaps in the image it built
    crds = {o["metadata"]["name"] for o in default["uncategorized"].objects
            if o["kind"] == "CustomResourceDefinition"}  # fmt: skip
    shipped = {yaml.safe_load(p.read_text())["metadata"]["name"]
               for p in (REPO / "charts" / "ori" / "crds").glob("*.yaml")}  # fmt: skip
    assert crds == shipped and "fleetpools.ori.dev" in crds
    pool = default[POOL].one("FleetPool", "default")
    assert pool["spec"]["template"]["image"] == f"{REGISTRY}/ori-worker"
    assert "worker" in default[POOL].images  # k8s_kind: Tilt finds the image in the pool
    assert default[POOL].image_locators == [
        {"objectSelector": {"kindRegexp": "(?i)FleetPool"}, "path": "{.spec.template.image}"}
    ]


def _secret_data(resources: dict[str, Resource]) -> dict[tuple[str, str], str]:
    """(Secret name, key) -> value, for every Secret Tilt would apply."""
    data: dict[tuple[str, str], str] = {}
    for resource in resources.values():
        for obj in resource.objects:
            if obj["kind"] == "Secret":
                name = obj["metadata"]["name"]
                data |= {(name, k): v for k, v in obj.get("stringData", {}).items()}
                data |= {
                    (name, k): base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()
                }
    return data


def _container_env(container: Manifest, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The environment the kubelet would give a container (fieldRefs of a made-up pod)."""
    fields = {"metadata.name": "default-x7k2p", "status.podIP": "10.244.0.7"}
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), item["value"])
        elif "fieldRef" in item["valueFrom"]:
            env[item["name"]] = fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"], ref["key"]]  # a missing Secret fails here
    return env


def test_a_worker_the_operator_starts_from_the_pool_has_valid_settings(
    default: dict[str, Resource], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = FleetPoolSpec.model_validate(default[POOL].one("FleetPool", "default")["spec"])
    pod = worker_pod("default", "uid", spec)
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == WORKER_CONTAINER]
    secrets = _secret_data(default)
    env = _container_env(container, secrets)
    for name in os.environ:
        if name.lower() in WorkerSettings.model_fields:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = WorkerSettings(_env_file=None)
    assert settings.max_concurrent_calls == 1
    assert (
        settings.voxcore_secret.get_secret_value() == secrets["ori-dev-secrets", "voxcore-secret"]
    )
    assert settings.resolved_worker_id == "default-x7k2p"
    assert str(settings.voxbridge_config_url) == "http://ori-backend:8080/api/v1/config"


def test_secrets_are_made_once_and_kept(tilt: Tilt, default: dict[str, Resource]) -> None:
    first = _secret_data(default)
    assert {name for name, _ in first} == {"ori-dev-secrets", "ori-dev-minio"}
    assert all(len(value) >= 20 for value in first.values())
    assert _secret_data(tilt.evaluate()) == first  # helm's randAlphaNum would differ each time
    assert (tilt.workdir / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    backend = default["ori-backend"].one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in backend["env"] if "valueFrom" in e}
    assert refs == {"ori-dev-secrets", "ori-dev-minio"}


def _all_of_kind(resources: dict[str, Resource], kind: str) -> list[Manifest]:
    return [o for r in resources.values() for o in r.objects if o["kind"] == kind]


def test_keda_is_opt_in(tilt: Tilt, default: dict[str, Resource]) -> None:
    assert _all_of_kind(default, "ScaledObject") == []  # a cluster without KEDA applies fine
    pool = default[POOL].one("FleetPool")
    assert pool["spec"]["keda"]["enabled"] is False and "replicas" not in pool["spec"]
    keda = tilt.evaluate("--keda")
    scaled = keda[POOL].one("ScaledObject", "default")  # shown with the pool it scales
    pool = keda[POOL].one("FleetPool")
    assert (
        pool["spec"]["replicas"]
        == pool["spec"]["min_replicas"]
        == scaled["spec"]["minReplicaCount"]
    )
    assert scaled["spec"]["scaleTargetRef"]["name"] == "default"


def test_only_allowed_contexts_and_complete_values_are_accepted(
    tilt: Tilt, kube: KubeCluster
) -> None:
    refused = tilt.run("--no-data")  # external data services need their addresses
    assert refused.returncode == 5
    assert "redis.url is required when redis.enabled is false" in refused.stderr
    prod = _kubeconfig(kube, "prod-eu", tilt.workdir / "prod-kubeconfig")
    elsewhere = Tilt(tilt.binary, {**tilt.env, "KUBECONFIG": str(prod)}, tilt.workdir)
    done = elsewhere.run()
    assert done.returncode == 5
    assert "prod-eu" in done.stderr and "allow_k8s_contexts" in done.stderr


@pytest.fixture(scope="module")
def cluster(kube: KubeCluster) -> Kubectl:
    kubectl = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(keda_crds_dir()))
    kube.wait_for_resource("keda.sh/v1alpha1", "scaledobjects")
    return kubectl


@pytest.fixture
def namespace(kube: KubeCluster, cluster: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    from ori_e2e.pytest_plugin import unique_name

    name = unique_name(request, sep="-", limit=40)
    kube.create_namespace(name)
    yield name
    cluster.run("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize("flags", [(), ("--keda",)], ids=["default", "keda"])
def test_what_tilt_applies_passes_the_api_servers_dry_run(
    tilt: Tilt, cluster: Kubectl, kube: KubeCluster, namespace: str, flags: tuple[str, ...]
) -> None:
    resources = tilt.evaluate(*flags)
    crds = _all_of_kind(resources, "CustomResourceDefinition")
    cluster.run("apply", "--server-side", "--force-conflicts", "-f", "-",
                stdin=yaml.safe_dump_all(crds))  # fmt: skip
    kube.wait_for_resource("ori.dev/v1alpha1", "fleetpools")
    rest = [
        o for r in resources.values() for o in r.objects if o["kind"] != "CustomResourceDefinition"
    ]
    for obj in rest:  # Tilt deploys into the kubeconfig's namespace; this test into its own
        obj["metadata"].pop("namespace", None)
    # Cluster-scoped objects (the operator's ClusterRoleBinding) may already exist from another
    # test's `helm install` on this shared control plane; a dry run may take them over harmlessly.
    out = cluster.in_namespace(namespace).run(
        "apply", "--dry-run=server", "--server-side", "--force-conflicts", "-f", "-",
        stdin=yaml.safe_dump_all(rest),
    )  # fmt: skip
    assert "fleetpool.ori.dev/default serverside-applied (server dry run)" in out
    assert "deployment.apps/ori-operator serverside-applied (server dry run)" in out
    assert ("scaledobject.keda.sh/default" in out) == ("--keda" in flags)

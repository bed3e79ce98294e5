"""The worker pod manifest and what is read back from a pod."""

from __future__ import annotations

import pytest

from ori_contracts.crds import FleetPoolSpec
from ori_operator.reconcile.pods import pod_view, template_hash, worker_pod

pytestmark = pytest.mark.unit

SPEC = FleetPoolSpec.model_validate(
    {
        "replicas": 2,
        "drain_timeout_s": 900,
        "template": {
            "image": "ori-worker:1",
            "env": {"LOG_LEVEL": "INFO"},
            "provider_secrets": {"DEEPGRAM_API_KEY": {"name": "providers", "key": "deepgram"}},
            "resources": {"requests": {"cpu": "500m"}},
            "node_selector": {"pool": "voice"},
        },
    }
)


def test_worker_pod_is_owned_labelled_and_never_restarted() -> None:
    manifest = worker_pod("default", "uid-1", SPEC)
    meta, spec = manifest["metadata"], manifest["spec"]
    assert meta["generateName"] == "default-"
    assert meta["labels"]["ori.dev/fleetpool"] == "default"
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("FleetPool", "uid-1", True)
    assert meta["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] == 900
    assert spec["nodeSelector"] == {"pool": "voice"}
    assert "tolerations" not in spec


def test_credentials_reach_the_worker_only_as_secret_references() -> None:
    (container,) = worker_pod("default", "uid-1", SPEC)["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["DEEPGRAM_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "providers",
        "key": "deepgram",
    }
    assert "value" not in env["DEEPGRAM_API_KEY"]
    assert env["WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["FLEETPOOL"]["value"] == "default"
    assert env["WORKER_ADDRESS"]["value"] == "$(POD_IP):8000"
    names = [item["name"] for item in container["env"]]
    assert names.index("POD_IP") < names.index("WORKER_ADDRESS")  # defined before it is used
    assert container["resources"] == {"requests": {"cpu": "500m"}}


def test_template_hash_changes_with_the_template_only() -> None:
    other = SPEC.model_copy(update={"replicas": 7})
    assert template_hash(SPEC.template) == template_hash(other.template)
    changed = FleetPoolSpec.model_validate({"template": {"image": "ori-worker:2"}})
    assert template_hash(changed.template) != template_hash(SPEC.template)


def test_pod_view_reads_phase_readiness_and_draining() -> None:
    raw = {
        "metadata": {
            "name": "default-abcde",
            "resourceVersion": "42",
            "creationTimestamp": "2026-03-01T12:00:00Z",
            "labels": {"ori.dev/draining": "true"},
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    view = pod_view(raw)
    assert (view.name, view.resource_version, view.phase) == ("default-abcde", "42", "Running")
    assert view.ready and view.draining_label and not view.terminating
    assert pod_view({"metadata": {"name": "x", "deletionTimestamp": "t"}}).terminating

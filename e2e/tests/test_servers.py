"""One real round trip per server, through the client library Ori uses for it."""

from __future__ import annotations

import io
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis_asyncio
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from minio import Minio
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import DuplicateKeyError

from ori_e2e.servers import HOST, KubeCluster, MongoServer, S3Server, start_nginx, wait_for
from ori_e2e.toolcache import pinned_version

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "ori.dev", "v1alpha1", "probes"


# ------------------------------------------------------------------------------------ redis


async def test_redis_set_get(redis_url: str) -> None:
    client = redis_asyncio.from_url(redis_url)
    try:
        await client.set("ori:test:greeting", "hello", ex=60)
        assert await client.get("ori:test:greeting") == b"hello"
        assert await client.dbsize() == 1  # the database is this test's own
    finally:
        await client.aclose()


# ------------------------------------------------------------------------------------ mongo


async def test_mongo_insert_find_and_unique_index(
    mongo_server: MongoServer, mongo_db_name: str
) -> None:
    client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(mongo_server.url)
    try:
        calls = client[mongo_db_name]["calls"]
        await calls.insert_one({"call_id": "c-1", "state": "ringing"})
        found = await calls.find_one({"call_id": "c-1"}, {"_id": 0})
        assert found == {"call_id": "c-1", "state": "ringing"}

        await calls.create_index("call_id", unique=True)
        with pytest.raises(DuplicateKeyError):
            await calls.insert_one({"call_id": "c-1", "state": "again"})
        assert await calls.count_documents({}) == 1
    finally:
        client.close()


# ------------------------------------------------------------------------------------ s3


def test_s3_put_get_and_presigned_get(s3_server: S3Server, s3_bucket: str) -> None:
    s3 = Minio(
        s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        secure=False,
        region=s3_server.region,
    )
    body = b"RIFF fake wav bytes " + uuid.uuid4().bytes
    s3.put_object(s3_bucket, "calls/c-1.wav", io.BytesIO(body), len(body), "audio/wav")

    response = s3.get_object(s3_bucket, "calls/c-1.wav")
    try:
        assert response.read() == body
    finally:
        response.close()
        response.release_conn()

    url = s3.presigned_get_object(s3_bucket, "calls/c-1.wav", expires=timedelta(minutes=5))
    fetched = httpx.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == body


# ------------------------------------------------------------------------------------ helm


def test_helm_prints_the_pinned_version(helm_binary: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HELM_CACHE_HOME": str(tmp_path / "cache")}
    env |= {"HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run(
        [helm_binary, "version", "--short"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip().split("+")[0] == pinned_version("helm")


# ------------------------------------------------------------------------------------ nginx


class _Backend(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"backend saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    server = ThreadingHTTPServer((HOST, 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_nginx_serves_static_file_and_proxies(
    nginx_binary: Path, backend: str, tmp_path: Path
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "hello.txt").write_text("static ok\n")
    conf = f"""
    server {{
      listen {HOST}:{{{{port}}}};
      location /static/ {{ alias {www}/; }}
      location /api/ {{ proxy_pass {backend}/; }}
    }}
    """
    with start_nginx(conf, tmp_path / "nginx") as nginx:
        static = httpx.get(f"{nginx.url}/static/hello.txt", timeout=10)
        assert static.status_code == 200
        assert static.text == "static ok\n"
        assert static.headers["content-type"].startswith("text/plain")

        proxied = httpx.get(f"{nginx.url}/api/calls?id=1", timeout=10)
        assert proxied.status_code == 200
        assert proxied.text == "backend saw /calls?id=1"


# ------------------------------------------------------------------------------------ kubernetes


@pytest.fixture
def api(kube: KubeCluster) -> Iterator[k8s.ApiClient]:
    config_file = str(kube.kubeconfig)
    api_client: k8s.ApiClient = k8s_config.new_client_from_config(config_file=config_file)  # type: ignore[no-untyped-call]
    try:
        yield api_client
    finally:
        api_client.close()  # type: ignore[no-untyped-call]


def _probe_crd() -> k8s.V1CustomResourceDefinition:
    status_props = {
        "replicas": {"type": "integer"},
        "selector": {"type": "string"},
        "phase": {"type": "string"},
    }
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"replicas": {"type": "integer"}, "message": {"type": "string"}},
            },
            "status": {"type": "object", "properties": status_props},
        },
    }
    scale = {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    return k8s.V1CustomResourceDefinition.model_validate(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{PLURAL}.{GROUP}"},
            "spec": {
                "group": GROUP,
                "scope": "Namespaced",
                "names": {"plural": PLURAL, "singular": "probe", "kind": "Probe"},
                "versions": [
                    {
                        "name": VERSION,
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": schema},
                        "subresources": {"status": {}, "scale": scale},
                    }
                ],
            },
        }
    )


def _established(ext: k8s.ApiextensionsV1Api, name: str) -> bool:
    status = ext.read_custom_resource_definition(name).status
    conditions = (status.conditions if status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def _as_dict(value: object) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


def test_kube_crd_status_scale_and_garbage_collection(
    kube: KubeCluster, api: k8s.ApiClient
) -> None:
    ext = k8s.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(_probe_crd())
    wait_for(lambda: _established(ext, f"{PLURAL}.{GROUP}"), timeout=30, what="CRD Established")
    # kcm's garbage collector would notice the new type only at its next 30 s discovery sync.
    kube.wait_for_resource(f"{GROUP}/{VERSION}", PLURAL)
    kube.restart_controller_manager()

    objects = k8s.CustomObjectsApi(api)
    probe = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Probe",
        "metadata": {"name": "p1"},
        "spec": {"replicas": 1, "message": "hi"},
    }
    args = (GROUP, VERSION, "default", PLURAL)
    # Established can precede the API server serving the new type by a moment.
    created = wait_for(
        lambda: _as_dict(objects.create_namespaced_custom_object(*args, probe)),
        timeout=30,
        what="creating a Probe",
    )
    assert _as_dict(objects.get_namespaced_custom_object(*args, "p1"))["spec"]["message"] == "hi"

    status = {"status": {"replicas": 1, "selector": "app=probe", "phase": "Ready"}}
    patched = _as_dict(objects.patch_namespaced_custom_object_status(*args, "p1", status))
    assert patched["status"]["phase"] == "Ready"
    assert patched["spec"] == {"replicas": 1, "message": "hi"}

    objects.patch_namespaced_custom_object_scale(*args, "p1", {"spec": {"replicas": 3}})
    scale = _as_dict(objects.get_namespaced_custom_object_scale(*args, "p1"))
    assert scale["spec"]["replicas"] == 3
    assert scale["status"] == {"replicas": 1, "selector": "app=probe"}
    assert _as_dict(objects.get_namespaced_custom_object(*args, "p1"))["spec"]["replicas"] == 3

    # Garbage collection (kube-controller-manager): a dependent goes when its owner goes.
    core = k8s.CoreV1Api(api)
    owner = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Probe",
        "name": "p1",
        "uid": created["metadata"]["uid"],
    }
    dependent = k8s.V1ConfigMap.model_validate(
        {"metadata": {"name": "p1-data", "ownerReferences": [owner]}, "data": {"k": "v"}}
    )
    core.create_namespaced_config_map("default", dependent)
    objects.delete_namespaced_custom_object(*args, "p1")

    def collected() -> bool:
        found = core.list_namespaced_config_map("default", field_selector="metadata.name=p1-data")
        return not found.items

    wait_for(collected, timeout=60, what="ConfigMap p1-data garbage-collected")


def test_kube_pod_runs_on_a_kwok_node(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    kwok_nodes = {
        n.metadata.name for n in core.list_node(label_selector="type=kwok").items if n.metadata
    }
    assert len(kwok_nodes) >= 2

    pod = k8s.V1Pod.model_validate(
        {
            "metadata": {"name": "worker-1", "labels": {"app": "ori-worker"}},
            "spec": {
                "nodeSelector": {"type": "kwok"},
                "containers": [{"name": "worker", "image": "ori/worker:test"}],
            },
        }
    )
    core.create_namespaced_pod("default", pod)

    def running() -> k8s.V1Pod | None:
        current = core.read_namespaced_pod("worker-1", "default")
        return current if current.status and current.status.phase == "Running" else None

    current = wait_for(running, timeout=60, what="pod worker-1 Running")
    assert current.spec and current.spec.node_name in kwok_nodes
    assert current.status and current.status.pod_ip

    core.delete_namespaced_pod("worker-1", "default")

    def gone() -> bool:
        found = core.list_namespaced_pod("default", field_selector="metadata.name=worker-1")
        return not found.items

    wait_for(gone, timeout=60, what="pod worker-1 deleted (kwok plays the kubelet)")

"""KEDA's operator and metrics adapter as local processes against a :class:`KubeCluster`.

KEDA documents running both outside the cluster (kedacore/keda ``BUILD.md``). Here:

* ``keda-operator`` watches ScaledObjects in the given namespaces, runs their scalers, creates
  the HPA and itself does activation (0 <-> 1); it serves the metric values to the adapter over
  mutual-TLS gRPC. Its certificate rotation and webhooks are off: a CA made here signs one
  certificate both use (``<workdir>/certs``).
* ``keda-adapter`` is the ``external.metrics.k8s.io`` API server the HPA reads (1 <-> N). It is
  registered with kube-apiserver's aggregation layer by an APIService whose Service is an
  ``ExternalName`` of ``localhost`` (the aggregator dials ``https://localhost:<port>`` and
  checks the certificate, against that CA, for the Service's name). It authenticates the
  aggregator's front-proxy client certificate from
  ``kube-system/extension-apiserver-authentication``.

Its metrics port binds every interface: KEDA's adapter has no flag for the address.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ori_e2e.servers.kube import KubeCluster
from ori_e2e.servers.pki import CertificateAuthority, write_key_pair
from ori_e2e.servers.process import (
    HOST,
    Argv,
    ManagedProcess,
    Server,
    ServerError,
    WaitTimeout,
    _remaining,
    _start_process,
    _with_port_retry,
    free_port,
    http_probe,
    wait_for,
)
from ori_e2e.toolcache import find_binary

__all__ = ["KEDA_NAMESPACE", "METRICS_APISERVICE", "KedaServer", "start_keda"]

#: Where KEDA keeps its cluster objects (the adapter's Service for the APIService).
KEDA_NAMESPACE = "keda"
#: The APIService the HPA controller reaches KEDA's adapter through.
METRICS_APISERVICE = "v1beta1.external.metrics.k8s.io"
_SERVICE = "keda-metrics-apiserver"
_APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"


@dataclass(kw_only=True)
class KedaServer(Server):
    """KEDA's operator (and, with ``metrics_adapter``, its adapter) for some namespaces.

    ``url`` is the operator's gRPC metrics service (``host:port``, what the adapter
    dials); ``adapter_url`` the adapter's HTTPS. ``stop()`` removes the APIService before it
    stops the adapter, so API discovery never lists an unavailable group afterwards.
    """

    cert_dir: Path
    namespaces: tuple[str, ...]
    adapter_url: str | None
    _kube: KubeCluster = field(repr=False)

    def stop(self) -> None:
        """Unregister the adapter, then stop both processes. Idempotent."""
        if self.adapter_url is not None:
            with self._kube.http() as client:
                client.delete(f"{_APISERVICES}/{METRICS_APISERVICE}")
        super().stop()


def start_keda(
    kube: KubeCluster,
    workdir: Path,
    *,
    namespaces: Sequence[str],
    metrics_adapter: bool = True,
    timeout: float = 90.0,
) -> KedaServer:
    """Start KEDA's operator (and its metrics adapter, registered as an APIService).

    Args:
        kube: The control plane; KEDA's CRDs must already be installed.
        workdir: Holds ``certs/`` and ``logs/keda-*.log``.
        namespaces: The namespaces KEDA watches (``WATCH_NAMESPACE``).
        metrics_adapter: Also run the adapter, so the HPA can scale beyond activation.
        timeout: Seconds for the whole start, the APIService becoming Available included.

    Returns:
        The running KEDA.

    Raises:
        ToolMissing: KEDA is not built (``tools/build.sh keda``).
        ServerError: A process did not become ready, or the APIService not Available.
    """
    operator_binary = find_binary("keda", "keda-operator")
    adapter_binary = find_binary("keda", "keda-adapter") if metrics_adapter else None
    deadline = time.monotonic() + timeout
    cert_dir = _write_certs(workdir / "certs")
    env = {
        "KUBECONFIG": str(kube.kubeconfig),
        "WATCH_NAMESPACE": ",".join(namespaces),
        "KEDA_CLUSTER_OBJECT_NAMESPACE": KEDA_NAMESPACE,
        "POD_NAMESPACE": KEDA_NAMESPACE,
    }
    logs = workdir / "logs"
    operator, grpc = _start_operator(
        operator_binary, cert_dir, env, logs, _remaining(deadline, "keda-operator")
    )
    processes = [operator]
    adapter_url: str | None = None
    try:
        if adapter_binary is not None:
            left = _remaining(deadline, "keda-adapter")
            adapter, port = _start_adapter(adapter_binary, kube, cert_dir, env, logs, grpc, left)
            processes.append(adapter)
            adapter_url = f"https://{HOST}:{port}"
            _register_adapter(kube, cert_dir, port, _remaining(deadline, "APIService"))
    except BaseException:
        if adapter_url is not None:
            with kube.http() as client:
                client.delete(f"{_APISERVICES}/{METRICS_APISERVICE}")
        for process in reversed(processes):
            process.stop(grace_seconds=3.0)
        raise
    return KedaServer(
        name="keda",
        host=HOST,
        port=int(grpc.rsplit(":", 1)[1]),
        url=grpc,
        processes=processes,
        ready_seconds=timeout - (deadline - time.monotonic()),
        cert_dir=cert_dir,
        namespaces=tuple(namespaces),
        adapter_url=adapter_url,
        _kube=kube,
    )


def _write_certs(cert_dir: Path) -> Path:
    """``ca.crt``, ``tls.crt``, ``tls.key``: the names both KEDA binaries look for."""
    cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (cert_dir / "tls.key").exists():
        ca = CertificateAuthority.create("ori-keda-ca")
        # The aggregator checks the name of the APIService's Service, not where it dials.
        hosts = ("localhost", HOST, f"{_SERVICE}.{KEDA_NAMESPACE}.svc")
        key, cert = ca.issue("keda", hosts=hosts)
        write_key_pair(key, cert, cert_dir / "tls.crt", cert_dir / "tls.key")
        (cert_dir / "ca.crt").write_bytes(ca.pem)
    return cert_dir


def _start_operator(
    binary: Path, cert_dir: Path, env: dict[str, str], logs: Path, timeout: float
) -> tuple[ManagedProcess, str]:
    """Start keda-operator; return it and its gRPC metrics service's ``host:port``."""

    def launch(health: int) -> tuple[ManagedProcess, str]:
        grpc = f"{HOST}:{free_port()}"
        argv: Argv = [binary, f"--health-probe-bind-address={HOST}:{health}"]
        argv += [f"--metrics-bind-address={HOST}:{free_port()}", f"--cert-dir={cert_dir}"]
        argv += [f"--metrics-service-bind-address={grpc}", "--leader-elect=false"]
        argv += ["--zap-log-level=info", "--zap-encoder=console"]
        process = _start_process(
            "keda-operator",
            argv,
            log_path=logs / "keda-operator.log",
            probe=http_probe(f"http://{HOST}:{health}/readyz"),
            timeout=timeout,
            env=env,
        )
        return process, grpc

    return _with_port_retry("keda-operator", None, launch)


def _start_adapter(
    binary: Path,
    kube: KubeCluster,
    cert_dir: Path,
    env: dict[str, str],
    logs: Path,
    grpc: str,
    timeout: float,
) -> tuple[ManagedProcess, int]:
    """Start keda-adapter; return it and its HTTPS port."""

    def launch(port: int) -> tuple[ManagedProcess, int]:
        config = f"{kube.kubeconfig}"
        argv: Argv = [binary, f"--secure-port={port}", f"--bind-address={HOST}"]
        argv += [f"--cert-dir={cert_dir}", f"--tls-cert-file={cert_dir / 'tls.crt'}"]
        argv += [f"--tls-private-key-file={cert_dir / 'tls.key'}"]
        argv += [f"--client-ca-file={cert_dir / 'ca.crt'}"]  # as KEDA's own manifests
        argv += [f"--authentication-kubeconfig={config}", f"--authorization-kubeconfig={config}"]
        argv += [f"--lister-kubeconfig={config}", f"--metrics-service-address={grpc}"]
        argv += [f"--port={free_port()}", "--zap-log-level=info", "--zap-encoder=console"]
        process = _start_process(
            "keda-adapter",
            argv,
            log_path=logs / "keda-adapter.log",
            probe=http_probe(f"https://{HOST}:{port}/readyz", verify=False),
            timeout=timeout,
            env=env,
        )
        return process, port

    return _with_port_retry("keda-adapter", None, launch)


def _register_adapter(kube: KubeCluster, cert_dir: Path, port: int, timeout: float) -> None:
    """Point the external-metrics APIService at the adapter and wait until it is Available."""
    ca_bundle = base64.b64encode((cert_dir / "ca.crt").read_bytes()).decode()
    with kube.http() as client:
        _apply(client, "/api/v1/namespaces", _namespace())
        _apply(client, f"/api/v1/namespaces/{KEDA_NAMESPACE}/services", _service(port))
        _apply(client, _APISERVICES, _apiservice(port, ca_bundle))
        try:
            wait_for(
                lambda: _available(client),
                timeout=timeout,
                what=f"APIService {METRICS_APISERVICE} Available",
                interval=0.2,
            )
        except WaitTimeout as exc:
            found = client.get(f"{_APISERVICES}/{METRICS_APISERVICE}").json()
            raise ServerError("keda-adapter", f"{exc}: {found.get('status')}") from exc


def _available(client: httpx.Client) -> bool:
    found = client.get(f"{_APISERVICES}/{METRICS_APISERVICE}").json()
    conditions = found.get("status", {}).get("conditions", [])
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def _apply(client: httpx.Client, collection: str, body: dict[str, Any]) -> None:
    """Create the object, or replace it when it exists (from an earlier KEDA start)."""
    name = body["metadata"]["name"]
    current = client.get(f"{collection}/{name}")
    if current.status_code == httpx.codes.NOT_FOUND:
        response = client.post(collection, json=body)
    else:
        if body["kind"] == "Namespace":
            return
        body["metadata"]["resourceVersion"] = current.json()["metadata"]["resourceVersion"]
        response = client.put(f"{collection}/{name}", json=body)
    if not response.is_success:
        reason = f"{body['kind']} {name}: {response.status_code} {response.text[:300]}"
        raise ServerError("keda-adapter", reason)


def _namespace() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KEDA_NAMESPACE}}


def _service(port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": _SERVICE, "namespace": KEDA_NAMESPACE},
        "spec": {
            "type": "ExternalName",
            "externalName": "localhost",
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
    }


def _apiservice(port: int, ca_bundle: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": METRICS_APISERVICE},
        "spec": {
            "service": {"name": _SERVICE, "namespace": KEDA_NAMESPACE, "port": port},
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "caBundle": ca_bundle,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }

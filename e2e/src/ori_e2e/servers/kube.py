"""A real Kubernetes control plane without containers.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes), each a
:class:`ManagedProcess`; see :func:`start_kube`.
"""

from __future__ import annotations

import json
import secrets
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ori_e2e.servers.pki import CertificateAuthority, write_key_pair
from ori_e2e.servers.process import (
    HOST,
    Argv,
    ManagedProcess,
    Probe,
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
from ori_e2e.toolcache import ToolMissing, find_binary, tool_bin_dir

# ------------------------------------------------------------------------------------ kubernetes

#: Annotation that tells the kwok controller a Node is one of its fake nodes.
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
_SERVICE_CIDR = "10.96.0.0/16"
_POD_CIDR = "10.244.0.0/16"
_FRONT_PROXY_CLIENT = "front-proxy-client"
#: How often the HPA controller re-evaluates (default 15 s); tests wait on it.
_HPA_SYNC_PERIOD = "3s"


@dataclass(frozen=True)
class _KubeBinaries:
    etcd: Path
    apiserver: Path
    controller_manager: Path
    scheduler: Path
    kwok: Path

    @classmethod
    def find(cls) -> _KubeBinaries:
        return cls(
            etcd=find_binary("etcd"),
            apiserver=find_binary("kubernetes", "kube-apiserver"),
            controller_manager=find_binary("kubernetes", "kube-controller-manager"),
            scheduler=find_binary("kubernetes", "kube-scheduler"),
            kwok=find_binary("kwok"),
        )


@dataclass(kw_only=True)
class KubeCluster(Server):
    """A Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
    and the kwok controller (fake nodes; pods on them go Running without containers).

    ``url`` is the API server's ``https://127.0.0.1:<port>``. Authenticate with ``token``
    (a member of ``system:masters``) and verify TLS with ``ca_file``; ``kubeconfig`` holds both.
    """

    workdir: Path
    kubeconfig: Path
    token: str
    ca_file: Path
    component_ready: dict[str, float] = field(default_factory=dict)
    _binaries: _KubeBinaries = field(repr=False)
    _paths: _KubePaths = field(repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """Return a TLS context that trusts the API server's certificate."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def http(self, timeout: float = 10.0) -> httpx.Client:
        """Return an httpx client for the API server (base URL, bearer token, CA).

        Args:
            timeout: Per-request timeout in seconds.

        Returns:
            A client; close it (``with kube.http() as client:``).
        """
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=self.ssl_context(),
            timeout=timeout,
        )

    def create_nodes(
        self, count: int, *, prefix: str = "kwok-node", timeout: float = 60.0
    ) -> list[str]:
        """Create ``count`` fake Nodes managed by kwok and wait until each is Ready.

        Nodes are labelled ``type=kwok`` and ``kubernetes.io/hostname=<name>`` and carry no taint,
        so any pod can be scheduled on them.

        Args:
            count: How many nodes to add.
            prefix: Name prefix; names are ``<prefix>-<n>`` with the lowest unused numbers.
            timeout: Seconds to wait for all of them to be Ready.

        Returns:
            The new node names.

        Raises:
            ServerError: The API refused a node or they did not become Ready in time.
        """
        with self.http() as client:
            existing = {item["metadata"]["name"] for item in self._list(client, "/api/v1/nodes")}
            names: list[str] = []
            index = 0
            while len(names) < count:
                name = f"{prefix}-{index}"
                index += 1
                if name not in existing:
                    self._create(client, "/api/v1/nodes", _fake_node(name))
                    names.append(name)
            self._wait(
                lambda: all(_node_ready(client, n) for n in names),
                timeout=timeout,
                what=f"nodes {names} to be Ready",
            )
        return names

    def create_namespace(self, name: str, *, timeout: float = 30.0) -> None:
        """Create a namespace and wait for its ``default`` ServiceAccount (pods need it).

        Args:
            name: The namespace name.
            timeout: Seconds to wait for the ServiceAccount.

        Raises:
            ServerError: The API refused it or the ServiceAccount did not appear in time.
        """
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        with self.http() as client:
            self._create(client, "/api/v1/namespaces", body)
        self.wait_for_service_account(name, timeout=timeout)

    def wait_for_service_account(
        self, namespace: str, name: str = "default", *, timeout: float = 30.0
    ) -> None:
        """Wait until kube-controller-manager has created a ServiceAccount.

        Args:
            namespace: Its namespace.
            name: Its name.
            timeout: Seconds to wait.

        Raises:
            ServerError: It did not appear in time.
        """
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}"
        with self.http() as client:
            self._wait(
                lambda: client.get(path).status_code == httpx.codes.OK,
                timeout=timeout,
                what=f"ServiceAccount {namespace}/{name}",
            )

    def wait_for_resource(self, api_version: str, plural: str, *, timeout: float = 30.0) -> None:
        """Wait until API discovery lists a resource (e.g. a new CRD's), as controllers see it.

        A CRD is Established a moment before the aggregated discovery document (which clients
        such as kube-controller-manager read) includes it.

        Args:
            api_version: ``group/version``, e.g. ``"ori.dev/v1alpha1"``.
            plural: The resource name, e.g. ``"fleetpools"``.
            timeout: Seconds to wait.

        Raises:
            ServerError: It was not listed in time.
        """
        group, _, version = api_version.rpartition("/")
        with self.http() as client:
            self._wait(
                lambda: _discovered(client, group, version, plural),
                timeout=timeout,
                what=f"{plural}.{api_version} in API discovery",
            )

    def restart_controller_manager(self, *, timeout: float = 30.0) -> float:
        """Restart kube-controller-manager so it sees newly installed CRDs at once.

        Its garbage collector rediscovers resource types only every 30 s (fixed in kcm), so
        dependents of a custom resource of a *new* CRD may be collected ~30-60 s late.
        Restarting kcm (a fraction of a second) once :meth:`wait_for_resource` has seen the
        new types avoids that wait.

        Args:
            timeout: Seconds to wait for the new process to be healthy.

        Returns:
            Seconds the new process took to become ready.

        Raises:
            ServerError: It did not become ready.
        """
        index = next(i for i, p in enumerate(self.processes) if p.name == "kube-controller-manager")
        self.processes[index].stop()
        process = _start_controller_manager(self._binaries.controller_manager, self._paths, timeout)
        self.processes[index] = process
        return process.ready_seconds or 0.0

    def _list(self, client: httpx.Client, path: str) -> list[dict[str, Any]]:
        response = client.get(path)
        if not response.is_success:
            raise ServerError("kube", f"GET {path}: {response.status_code} {response.text[:300]}")
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def _create(self, client: httpx.Client, path: str, body: dict[str, Any]) -> None:
        response = client.post(path, json=body)
        if response.status_code != httpx.codes.CREATED:
            name = body["metadata"]["name"]
            reason = f"creating {body['kind']} {name}: {response.status_code} {response.text[:300]}"
            raise ServerError("kube", reason)

    def _wait(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        try:
            wait_for(condition, timeout=timeout, what=what, interval=0.2)
        except WaitTimeout as exc:
            tails = "\n".join(f"--- {p.name} ---\n{p.log_tail(10)}" for p in self.processes)
            raise ServerError("kube", f"{exc}\n{tails}") from exc


_AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _discovered(client: httpx.Client, group: str, version: str, plural: str) -> bool:
    path = "/apis" if group else "/api"
    response = client.get(path, headers={"Accept": _AGGREGATED_DISCOVERY})
    response.raise_for_status()
    for item in response.json().get("items", []):
        if item.get("metadata", {}).get("name", "") != group:
            continue
        for entry in item.get("versions", []):
            if entry.get("version") == version:
                return any(r.get("resource") == plural for r in entry.get("resources", []))
    return False


def _node_ready(client: httpx.Client, name: str) -> bool:
    response = client.get(f"/api/v1/nodes/{name}")
    if not response.is_success:
        return False
    conditions = response.json().get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _fake_node(name: str) -> dict[str, Any]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "250", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


@dataclass(frozen=True)
class _KubePaths:
    """Files of one control plane under its workdir (stable across restarts of the same dir)."""

    workdir: Path

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def serving_dir(self) -> Path:
        return self.pki / "apiserver"

    @property
    def ca_file(self) -> Path:
        # kube-apiserver writes its self-signed serving cert (leaf + its CA) here at start.
        return self.serving_dir / "apiserver.crt"

    @property
    def sa_key(self) -> Path:
        return self.pki / "sa.key"

    @property
    def tokens(self) -> Path:
        return self.pki / "tokens.csv"

    @property
    def front_proxy_ca(self) -> Path:
        # The aggregation layer: extension API servers trust requests signed by this CA.
        return self.pki / "front-proxy-ca.crt"

    @property
    def front_proxy_client(self) -> tuple[Path, Path]:
        return self.pki / "front-proxy-client.crt", self.pki / "front-proxy-client.key"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def kwok_config(self) -> Path:
        return self.workdir / "kwok.yaml"


def _prepare_kube_files(paths: _KubePaths) -> str:
    """Create the service-account key, token file and kwok config; return the admin token."""
    for directory in (
        paths.logs,
        paths.serving_dir,
        paths.workdir / "etcd",
        paths.workdir / "kwok",
    ):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not paths.sa_key.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        paths.sa_key.write_bytes(pem)
        paths.sa_key.chmod(0o600)
    if not paths.tokens.exists():
        paths.tokens.write_text(f'{secrets.token_hex(24)},ori-admin,ori-admin,"system:masters"\n')
        paths.tokens.chmod(0o600)
    if not paths.front_proxy_ca.exists():
        ca = CertificateAuthority.create("ori-front-proxy-ca")
        write_key_pair(*ca.issue(_FRONT_PROXY_CLIENT), *paths.front_proxy_client)
        paths.front_proxy_ca.write_bytes(ca.pem)
    paths.kwok_config.write_text(kwok_stages())
    return paths.tokens.read_text().split(",", 1)[0]


def _write_kubeconfig(paths: _KubePaths, server: str, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "ori",
                "cluster": {"server": server, "certificate-authority": str(paths.ca_file)},
            }
        ],
        "users": [{"name": "ori-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": "ori",
                "context": {"cluster": "ori", "user": "ori-admin", "namespace": "default"},
            }
        ],
        "current-context": "ori",
    }
    paths.kubeconfig.write_text(json.dumps(config, indent=2))  # JSON is valid kubeconfig YAML
    paths.kubeconfig.chmod(0o600)


def _start_etcd(binary: Path, paths: _KubePaths, timeout: float) -> tuple[ManagedProcess, str]:
    def launch(client_port: int) -> tuple[ManagedProcess, str]:
        client_url, peer_url = f"http://{HOST}:{client_port}", f"http://{HOST}:{free_port()}"
        argv: Argv = [binary, "--name=ori", f"--data-dir={paths.workdir / 'etcd'}"]
        argv += [f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}"]
        argv += [f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}"]
        argv += [f"--initial-cluster=ori={peer_url}", "--unsafe-no-fsync", "--log-level=warn"]
        process = _start_process(
            "etcd",
            argv,
            log_path=paths.logs / "etcd.log",
            probe=http_probe(f"{client_url}/health", check=lambda r: r.json()["health"] == "true"),
            timeout=timeout,
        )
        return process, client_url

    return _with_port_retry("etcd", None, launch)


def _start_apiserver(
    binary: Path, paths: _KubePaths, etcd_url: str, token: str, port: int | None, timeout: float
) -> tuple[ManagedProcess, str]:
    def launch(chosen: int) -> tuple[ManagedProcess, str]:
        url = f"https://{HOST}:{chosen}"
        argv: Argv = [binary, f"--etcd-servers={etcd_url}", f"--secure-port={chosen}"]
        argv += [f"--bind-address={HOST}", f"--advertise-address={HOST}"]
        argv += [f"--cert-dir={paths.serving_dir}", f"--token-auth-file={paths.tokens}"]
        argv += [f"--service-account-key-file={paths.sa_key}"]
        argv += [f"--service-account-signing-key-file={paths.sa_key}"]
        argv += ["--service-account-issuer=https://kubernetes.default.svc.cluster.local"]
        argv += ["--authorization-mode=RBAC", f"--service-cluster-ip-range={_SERVICE_CIDR}"]
        # The `kubernetes` Service cannot have loopback endpoints; nothing in-cluster needs it.
        argv += ["--endpoint-reconciler-type=none", "--allow-privileged=true", "--profiling=false"]
        argv += _aggregation_flags(paths)
        process = _start_process(
            "kube-apiserver",
            argv,
            log_path=paths.logs / "kube-apiserver.log",
            probe=_apiserver_probe(url, paths.ca_file, token),
            timeout=timeout,
        )
        return process, url

    return _with_port_retry("kube-apiserver", port, launch)


def _aggregation_flags(paths: _KubePaths) -> list[str]:
    """The aggregation layer (APIService): proxy with a client certificate, pass the user on."""
    cert, key = paths.front_proxy_client
    return [
        f"--requestheader-client-ca-file={paths.front_proxy_ca}",
        f"--requestheader-allowed-names={_FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={cert}",
        f"--proxy-client-key-file={key}",
    ]


def _apiserver_probe(url: str, ca_file: Path, token: str) -> Probe:
    def probe() -> bool:
        if not ca_file.exists():
            return False
        verify = ssl.create_default_context(cafile=str(ca_file))
        headers = {"Authorization": f"Bearer {token}"}
        return http_probe(f"{url}/readyz", verify=verify, headers=headers)()

    return probe


def _start_controller_manager(binary: Path, paths: _KubePaths, timeout: float) -> ManagedProcess:
    def launch(port: int) -> ManagedProcess:
        argv: Argv = [binary, f"--kubeconfig={paths.kubeconfig}", f"--bind-address={HOST}"]
        argv += [f"--secure-port={port}", "--leader-elect=false", "--profiling=false"]
        argv += [f"--root-ca-file={paths.ca_file}", f"--service-cluster-ip-range={_SERVICE_CIDR}"]
        argv += [f"--service-account-private-key-file={paths.sa_key}"]
        argv += [f"--horizontal-pod-autoscaler-sync-period={_HPA_SYNC_PERIOD}"]
        return _start_process(
            "kube-controller-manager",
            argv,
            log_path=paths.logs / "kube-controller-manager.log",
            probe=http_probe(f"https://{HOST}:{port}/healthz", verify=False),
            timeout=timeout,
        )

    return _with_port_retry("kube-controller-manager", None, launch)


def _start_scheduler(binary: Path, paths: _KubePaths, timeout: float) -> ManagedProcess:
    def launch(port: int) -> ManagedProcess:
        argv: Argv = [binary, f"--kubeconfig={paths.kubeconfig}", f"--bind-address={HOST}"]
        argv += [f"--secure-port={port}", "--leader-elect=false", "--profiling=false"]
        return _start_process(
            "kube-scheduler",
            argv,
            log_path=paths.logs / "kube-scheduler.log",
            probe=http_probe(f"https://{HOST}:{port}/healthz", verify=False),
            timeout=timeout,
        )

    return _with_port_retry("kube-scheduler", None, launch)


def _start_kwok(binary: Path, paths: _KubePaths, timeout: float) -> ManagedProcess:
    def launch(port: int) -> ManagedProcess:
        argv: Argv = [binary, f"--kubeconfig={paths.kubeconfig}", f"--config={paths.kwok_config}"]
        argv += ["--manage-all-nodes=false", f"--cidr={_POD_CIDR}"]
        argv += [f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake"]
        argv += ["--node-lease-duration-seconds=40", f"--server-address={HOST}:{port}"]
        return _start_process(
            "kwok",
            argv,
            log_path=paths.logs / "kwok.log",
            probe=http_probe(f"http://{HOST}:{port}/healthz"),
            timeout=timeout,
            # kwok also reads ~/.kwok/kwok.yaml when it exists; keep it to our config only.
            env={"HOME": str(paths.workdir / "kwok")},
        )

    return _with_port_retry("kwok", None, launch)


def start_kube(
    workdir: Path, *, nodes: int = 0, port: int | None = None, timeout: float = 180.0
) -> KubeCluster:
    """Start a Kubernetes control plane on loopback: etcd, kube-apiserver,
    kube-controller-manager, kube-scheduler and the kwok controller.

    The API server authenticates a static bearer token in ``system:masters`` (RBAC on), serves
    a self-signed certificate written to ``<workdir>/pki/apiserver/apiserver.crt`` (the CA file),
    and persists to etcd under ``<workdir>/etcd``; keys, token and data are reused when the
    directory is reused. CRDs (with ``/status`` and ``/scale``), garbage collection, namespaces,
    ServiceAccounts, scheduling and Deployments work; pods on kwok nodes become Running without
    running anything. The aggregation layer is on (front-proxy CA and client certificate under
    ``pki/``), so an APIService can register an extension server such as KEDA's metrics adapter
    (:mod:`ori_e2e.servers.keda`); the HPA controller re-evaluates every 3 s.

    Args:
        workdir: Holds ``kubeconfig``, ``pki/``, ``etcd/``, ``kwok.yaml``, ``logs/<component>.log``.
        nodes: Fake nodes to create (see :meth:`KubeCluster.create_nodes`) before returning.
        port: The API server's port; a free one when None.
        timeout: Seconds for the whole start, nodes included.

    Returns:
        The running control plane, its kubeconfig written.

    Raises:
        ToolMissing: A binary is not built (checked before anything starts).
        ServerError: A component did not become ready; the message names it and holds its log tail.
    """
    binaries = _KubeBinaries.find()
    paths = _KubePaths(workdir)
    deadline = time.monotonic() + timeout
    token = _prepare_kube_files(paths)
    processes: list[ManagedProcess] = []
    try:
        etcd, etcd_url = _start_etcd(binaries.etcd, paths, _remaining(deadline, "etcd"))
        processes.append(etcd)
        left = _remaining(deadline, "kube-apiserver")
        apiserver, url = _start_apiserver(binaries.apiserver, paths, etcd_url, token, port, left)
        processes.append(apiserver)
        _write_kubeconfig(paths, url, token)
        processes += _start_in_parallel(binaries, paths, _remaining(deadline, "kube controllers"))
        cluster = KubeCluster(
            name="kube",
            host=HOST,
            port=int(url.rsplit(":", 1)[1]),
            url=url,
            processes=processes,
            ready_seconds=0.0,
            workdir=workdir,
            kubeconfig=paths.kubeconfig,
            token=token,
            ca_file=paths.ca_file,
            _binaries=binaries,
            _paths=paths,
        )
        cluster.wait_for_service_account("default", timeout=_remaining(deadline, "kube"))
        if nodes:
            cluster.create_nodes(nodes, timeout=_remaining(deadline, "kube nodes"))
    except BaseException:
        for process in reversed(processes):
            process.stop(grace_seconds=3.0)
        raise
    cluster.component_ready = {p.name: p.ready_seconds or 0.0 for p in processes}
    cluster.ready_seconds = timeout - (deadline - time.monotonic())
    return cluster


def _start_in_parallel(
    binaries: _KubeBinaries, paths: _KubePaths, timeout: float
) -> list[ManagedProcess]:
    """Start kube-controller-manager, kube-scheduler and kwok at once; all or none."""
    starters: list[Callable[[], ManagedProcess]] = [
        lambda: _start_controller_manager(binaries.controller_manager, paths, timeout),
        lambda: _start_scheduler(binaries.scheduler, paths, timeout),
        lambda: _start_kwok(binaries.kwok, paths, timeout),
    ]
    started: list[ManagedProcess] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(starters), thread_name_prefix="ori-kube") as pool:
        for future in [pool.submit(start) for start in starters]:
            try:
                started.append(future.result())
            except BaseException as exc:  # collect, so the started ones can be stopped
                errors.append(exc)
    if errors:
        for process in started:
            process.stop(grace_seconds=3.0)
        raise errors[0]
    return started


def kwok_stages() -> str:
    """kwok's default stages (node ready + lease heartbeat, pod ready/complete/delete).

    ``tools/build.sh`` copies them from the pinned kwok module into the tool's cache entry,
    so they always match the kwok binary. Without stages the kwok controller refuses to start.
    """
    stages = sorted((tool_bin_dir("kwok").parent / "stages").glob("*.yaml"))
    if not stages:
        raise ToolMissing("kwok", "its stage files are missing from the cache; run `make tools`")
    return "\n---\n".join(path.read_text().strip() for path in stages) + "\n"

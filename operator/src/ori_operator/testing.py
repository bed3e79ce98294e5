"""Helpers for tests and benchmarks that drive a real cluster with kubectl.

Nothing here is used by the operator itself. The functions take the kubeconfig and the kubectl
binary explicitly, so they work against any cluster (the test harness's kwok control plane,
kind, a real one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from ori_contracts.allocation import WorkerState
from ori_contracts.crds import FLEETPOOL_LABEL, GROUP, RESOURCES
from ori_operator.allocator import Allocator
from ori_operator.kube import Kube

__all__ = [
    "CRDS_DIR",
    "KEDA_VERSION",
    "Kubectl",
    "KubectlError",
    "OperatorProcess",
    "WorkerSimulator",
    "keda_crds_dir",
    "repo_root",
]


def repo_root() -> Path:
    """The checkout's root (the directory holding `crds/`)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "crds").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    raise FileNotFoundError(f"no checkout root above {Path(__file__).resolve()}")


CRDS_DIR = repo_root() / "crds"


class KubectlError(RuntimeError):
    """kubectl exited non-zero; the message holds its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"kubectl {' '.join(argv)} exited {returncode}: {stderr.strip()}")


class Kubectl:
    """Run kubectl against one cluster, optionally in one namespace."""

    def __init__(self, binary: Path, kubeconfig: Path, namespace: str | None = None) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def in_namespace(self, namespace: str) -> Kubectl:
        """The same cluster, another namespace."""
        return Kubectl(self.binary, self.kubeconfig, namespace)

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> str:
        """Run one command and return its stdout.

        Raises:
            KubectlError: It exited non-zero.
        """
        argv = [f"--kubeconfig={self.kubeconfig}"]
        if self.namespace:
            argv.append(f"--namespace={self.namespace}")
        argv += list(args)
        done = subprocess.run(  # noqa: S603 - a fixed binary with our own arguments
            [str(self.binary), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise KubectlError(argv, done.returncode, done.stderr)
        return done.stdout

    def json(self, *args: str) -> Any:
        """Run a `get`-like command with `-o json` and parse the answer."""
        return json.loads(self.run(*args, "-o", "json"))

    def apply(self, manifest: str | Path, *, server_side: bool = False) -> str:
        """`kubectl apply` a file, a directory, or YAML text."""
        flags = ["--server-side"] if server_side else []
        if isinstance(manifest, Path):
            return self.run("apply", *flags, "-f", str(manifest))
        return self.run("apply", *flags, "-f", "-", stdin=manifest)

    def install_crds(self, *, timeout: float = 60.0) -> None:
        """Apply Ori's CRDs (idempotent) and wait until API discovery lists every kind."""
        self.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))
        deadline = time.monotonic() + timeout
        wanted = {resource.plural for resource in RESOURCES}
        while True:
            listed = self.run("api-resources", f"--api-group={GROUP}", "-o", "name")
            if wanted <= {line.split(".", 1)[0] for line in listed.split()}:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"API discovery did not list {sorted(wanted)} in {timeout} s")
            time.sleep(0.2)


class WorkerSimulator:
    """Stands in for the worker processes of a pool's pods on a kwok cluster.

    kwok runs no containers, so this does what each worker would: every `interval_s` it
    heartbeats the registration of every Running pod of the pool (address `<pod IP>:<port>`),
    with the call the worker holds, using the same scripts as the real worker. Calls are
    claimed and released through the `Allocator` as the backend and the worker would.
    """

    def __init__(
        self, kube: Kube, allocator: Allocator, namespace: str, pool: str, *, port: int = 8000
    ) -> None:
        self.kube = kube
        self.allocator = allocator
        self.namespace = namespace
        self.pool = pool
        self.port = port
        self.states: dict[str, WorkerState | None] = {}
        self.seen_pods: set[str] = set()
        self.missed_beats: list[str] = []
        """Beats skipped because Redis could not be reached (for diagnostics)."""

    async def beat_once(self) -> None:
        """Heartbeat every live pod of the pool once."""
        pods = await self.kube.list_pods(self.namespace, f"{FLEETPOOL_LABEL}={self.pool}")
        live = [
            p
            for p in pods
            if p.get("status", {}).get("phase") == "Running"
            and p.get("status", {}).get("podIP")
            and not p["metadata"].get("deletionTimestamp")
        ]
        names = [p["metadata"]["name"] for p in live]
        self.seen_pods.update(names)
        registrations = await self.allocator.registrations(names)
        for pod, name in zip(live, names, strict=True):
            current = registrations[name]
            call = current.call_id if current else None
            address = f"{pod['status']['podIP']}:{self.port}"
            self.states[name] = await self.allocator.heartbeat(name, self.pool, address, call)

    async def run(self, stop: asyncio.Event, interval_s: float = 0.3) -> None:
        """Heartbeat until `stop` is set.

        A beat that cannot reach Redis is skipped and kept in `missed_beats`, as a real
        worker's would be: registrations outlive a few missed beats (their TTL).
        """
        while not stop.is_set():
            try:
                await self.beat_once()
            except RedisError as error:
                self.missed_beats.append(repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)


KEDA_MODULE = "github.com/kedacore/keda/v2"
KEDA_VERSION = "v2.20.2"


def keda_crds_dir(version: str = KEDA_VERSION) -> Path:
    """KEDA's own CRDs (`config/crd/bases/`), from its Go module in the Go module cache.

    `go mod download` fetches the module once (through the Go module proxy) and answers from
    the cache afterwards.

    Raises:
        RuntimeError: Go is missing or the download failed; the message says why.
    """
    try:
        done = subprocess.run(  # noqa: S603 - go with our own arguments
            ["go", "mod", "download", "-json", f"{KEDA_MODULE}@{version}"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=Path("/"),
        )
    except FileNotFoundError as error:
        raise RuntimeError("`go` is not on PATH; it fetches KEDA's CRDs") from error
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        raise RuntimeError(f"go mod download {KEDA_MODULE}@{version} failed: {done.stderr}")
    return Path(info["Dir"]) / "config" / "crd" / "bases"


class OperatorProcess:
    """`python -m ori_operator` as its own process group, as a deployment runs it.

    Started with the given environment (plus free metrics and health ports on loopback), it
    counts as up once `/healthz` answers. `kill()` is SIGKILL to the group: no clean-up, like a
    node dying mid-reconcile.
    """

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.metrics_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until its liveness endpoint answers."""
        health, self.metrics_port = _free_port(), _free_port()
        env = {**os.environ, **self.env, "METRICS_PORT": str(self.metrics_port),
               "HEALTH_PORT": str(health), "BIND_HOST": "127.0.0.1"}  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "ori_operator"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ori-operator exited; see {self.log_path}")
            url = f"http://127.0.0.1:{health}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):  # noqa: S310
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"ori-operator not healthy after {timeout} s; see {self.log_path}")

    def metrics(self) -> str:
        """Its Prometheus exposition text."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
            return str(answer.read().decode())

    def kill(self) -> None:
        """SIGKILL the whole process group, at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`. Idempotent."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

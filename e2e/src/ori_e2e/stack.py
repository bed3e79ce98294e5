"""``make up`` (``ori-up``): run Ori locally on embedded defaults, wired as in production.

Starts Redis, FerretDB (MongoDB wire protocol) and MinIO from the tools cache, then the
backend (Qdrant in embedded local mode), a few single-slot workers and the dialler, each as
its own process with its own log. Prints what runs where, and on Ctrl-C (or SIGTERM) stops
everything, services first. If any process dies, the whole stack stops and says which.

The wiring is the inventory's: workers fetch runtime config from ``VOXBRIDGE_CONFIG_URL``
(the backend), the dialler attaches calls to ``FLEET_URLS`` (the workers) with the shared
``VOXCORE_SECRET``, and the backend and dialler share one ``MONGODB_DB``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import socket
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from minio import Minio

from ori_e2e.servers import (
    HOST,
    ManagedProcess,
    Server,
    ServerError,
    http_probe,
    start_ferretdb,
    start_minio,
    start_redis,
)
from ori_e2e.toolcache import ToolMissing, repo_root

MONGODB_DB = "voxbridge"
RECORDINGS_BUCKET = "recordings"
SERVICE_START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Layout:
    """Where each part of the local stack listens and keeps its files."""

    data_dir: Path
    backend_port: int = 8080
    worker_ports: tuple[int, ...] = (8001, 8002, 8003)
    dialler_port: int = 8090
    infra_ports: dict[str, int] = field(
        default_factory=lambda: {"redis": 6379, "mongodb": 27017, "s3": 9000}
    )

    @property
    def backend_url(self) -> str:
        """The backend's base URL."""
        return f"http://{HOST}:{self.backend_port}"

    @property
    def worker_urls(self) -> list[str]:
        """Each worker's base URL, in order."""
        return [f"http://{HOST}:{port}" for port in self.worker_ports]


@dataclass(frozen=True)
class Secrets:
    """Credentials generated once per data directory and kept in ``secrets.json``."""

    jwt_secret: str
    voxcore_secret: str
    minio_access_key: str
    minio_secret_key: str

    @classmethod
    def load_or_create(cls, path: Path) -> Secrets:
        """Read the secrets file, creating it (mode 600) on first use."""
        if path.exists():
            return cls(**json.loads(path.read_text()))
        created = cls(
            jwt_secret=secrets.token_hex(32),
            voxcore_secret=secrets.token_hex(24),
            minio_access_key="ori-local",
            minio_secret_key=secrets.token_hex(16),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(created.__dict__, indent=2))
        return created


@dataclass(frozen=True)
class Infra:
    """The data servers' addresses, as the services are told them."""

    redis_url: str
    mongodb_uri: str
    s3_endpoint: str


def backend_env(layout: Layout, infra: Infra, keys: Secrets) -> dict[str, str]:
    """The backend's environment."""
    return {
        "MONGODB_URI": infra.mongodb_uri,
        "MONGODB_DB": MONGODB_DB,
        "REDIS_URL": infra.redis_url,
        "JWT_SECRET": keys.jwt_secret,
        "VOXCORE_WSS_BASE_URL": f"ws://{HOST}:{layout.worker_ports[0]}/ws",
        "VOXCORE_SECRET": keys.voxcore_secret,
        "QDRANT_PATH": str(layout.data_dir / "qdrant"),
        "MINIO_ENDPOINT": infra.s3_endpoint,
        "MINIO_ACCESS_KEY": keys.minio_access_key,
        "MINIO_SECRET_KEY": keys.minio_secret_key,
        "FLEET_URLS": json.dumps(layout.worker_urls),
    }


def worker_env(layout: Layout, infra: Infra, keys: Secrets) -> dict[str, str]:
    """Every worker's environment (the same for all; each gets its own port)."""
    return {
        "VOXBRIDGE_CONFIG_URL": f"{layout.backend_url}/api/v1/config",
        "VOXCORE_SECRET": keys.voxcore_secret,
        "MINIO_ENDPOINT": infra.s3_endpoint,
        "MINIO_ACCESS_KEY": keys.minio_access_key,
        "MINIO_SECRET_KEY": keys.minio_secret_key,
        "MINIO_BUCKET": RECORDINGS_BUCKET,
        "MINIO_SECURE": "false",
        "MAX_CONCURRENT_CALLS": "1",
        "PYTHONOPTIMIZE": "2",  # as the worker's image runs it
    }


def dialler_env(layout: Layout, infra: Infra, keys: Secrets) -> dict[str, str]:
    """The dialler's environment. LiveKit points at a local dev server's address and keys."""
    return {
        "MONGODB_URI": infra.mongodb_uri,
        "MONGODB_DB": MONGODB_DB,
        "FLEET_URLS": json.dumps(layout.worker_urls),
        "VOXCORE_SECRET": keys.voxcore_secret,
        "LIVEKIT_URL": f"ws://{HOST}:7880",
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "secret",  # livekit-server --dev's fixed key pair
        "LIVEKIT_TRUNK_ID": "ST_local",
        "HEALTH_HOST": HOST,
        "HEALTH_PORT": str(layout.dialler_port),
    }


def port_or_free(preferred: int) -> int | None:
    """``preferred`` when nothing listens there, else None (the harness picks a free port)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, preferred))
        except OSError:
            return None
    return preferred


def require_free(layout: Layout) -> None:
    """Fail before starting anything if a service port is taken."""
    taken = [
        p
        for p in (layout.backend_port, *layout.worker_ports, layout.dialler_port)
        if port_or_free(p) is None
    ]
    if taken:
        ports = ", ".join(map(str, taken))
        raise SystemExit(f"ori-up: port(s) {ports} on {HOST} are in use; is Ori already up?")


class Stack:
    """The running stack: servers and service processes, stopped in reverse order."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.exits = ExitStack()
        self.rows: list[tuple[str, str, str]] = []
        self.services: list[ManagedProcess] = []

    def start(self) -> None:
        """Start every server, then every service, each ready before the next."""
        infra = self._start_infra()
        keys = Secrets.load_or_create(self.layout.data_dir / "secrets.json")
        self._ensure_bucket(infra, keys)
        layout = self.layout
        self._service(
            "backend", "ori_backend", layout.backend_port, backend_env(layout, infra, keys)
        )
        for index, port in enumerate(layout.worker_ports, start=1):
            self._service(f"worker-{index}", "ori_worker", port, worker_env(layout, infra, keys))
        self._service(
            "dialler", "ori_dialler", layout.dialler_port, dialler_env(layout, infra, keys)
        )

    def _start_infra(self) -> Infra:
        data, ports = self.layout.data_dir, self.layout.infra_ports
        keys = Secrets.load_or_create(data / "secrets.json")
        redis = self._server(
            start_redis(data / "redis", port_or_free(ports["redis"]), persistent=True)
        )
        mongo = self._server(start_ferretdb(data / "mongodb", port_or_free(ports["mongodb"])))
        s3 = start_minio(
            data / "minio",
            port_or_free(ports["s3"]),
            access_key=keys.minio_access_key,
            secret_key=keys.minio_secret_key,
        )
        self._server(s3)
        return Infra(redis_url=redis.url, mongodb_uri=mongo.url, s3_endpoint=s3.endpoint)

    def _server(self, server: Server) -> Server:
        self.exits.callback(server.stop)
        self.rows.append((server.name, server.url, ", ".join(map(str, server.log_paths))))
        return server

    def _ensure_bucket(self, infra: Infra, keys: Secrets) -> None:
        client = Minio(
            infra.s3_endpoint,
            access_key=keys.minio_access_key,
            secret_key=keys.minio_secret_key,
            secure=False,
        )
        if not client.bucket_exists(RECORDINGS_BUCKET):
            client.make_bucket(RECORDINGS_BUCKET)

    def _service(self, name: str, module: str, port: int, env: dict[str, str]) -> None:
        workdir = self.layout.data_dir / name
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", module]
        if module != "ori_dialler":
            argv += ["--host", HOST, "--port", str(port)]
        process = ManagedProcess(
            name, argv, log_path=workdir / f"{name}.log", env=env, cwd=workdir, grace_seconds=15
        )
        self.exits.callback(process.stop)
        process.start(http_probe(f"http://{HOST}:{port}/health"), timeout=SERVICE_START_TIMEOUT_S)
        self.services.append(process)
        self.rows.append((name, f"http://{HOST}:{port}", str(process.log_path)))

    def dead(self) -> ManagedProcess | None:
        """The first service process that has exited, if any."""
        return next((p for p in self.services if not p.running), None)

    def stop(self) -> None:
        """Stop everything: services first (reverse start order), then the servers."""
        self.exits.close()

    def table(self) -> str:
        """What runs where, as an aligned table."""
        width = max(len(name) for name, _, _ in self.rows)
        lines = [f"{'what':<{width}}  {'where':<26}  log"]
        lines += [f"{name:<{width}}  {url:<26}  {log}" for name, url, log in self.rows]
        return "\n".join(lines)


def wait_for_stop(stack: Stack) -> str:
    """Block until SIGINT/SIGTERM or a service dies; return why."""
    stopping = threading.Event()
    reason = ["stopped by signal"]

    def on_signal(signum: int, _: FrameType | None) -> None:
        reason[0] = f"stopped by {signal.Signals(signum).name}"
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping.wait(timeout=0.5):
        if (dead := stack.dead()) is not None:
            return f"{dead.name} exited with status {dead.returncode}; see {dead.log_path}"
    return reason[0]


def parse_args(argv: list[str] | None) -> Layout:
    """Read the command line into a :class:`Layout`."""
    parser = argparse.ArgumentParser(prog="ori-up", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=repo_root() / ".ori")
    parser.add_argument("--backend-port", type=int, default=8080)
    parser.add_argument("--worker-ports", default="8001,8002,8003", help="comma-separated")
    parser.add_argument("--dialler-port", type=int, default=8090)
    args = parser.parse_args(argv)
    ports = tuple(int(p) for p in args.worker_ports.split(",") if p.strip())
    return Layout(
        data_dir=args.data_dir.resolve(),
        backend_port=args.backend_port,
        worker_ports=ports,
        dialler_port=args.dialler_port,
    )


def main(argv: list[str] | None = None) -> int:
    """Start the stack, print where everything runs, and stop it cleanly on Ctrl-C."""
    layout = parse_args(argv)
    require_free(layout)
    stack = Stack(layout)
    try:
        stack.start()
    except (ToolMissing, ServerError) as error:
        stack.stop()
        print(f"ori-up: {error}", file=sys.stderr)
        return 1
    except BaseException:
        stack.stop()
        raise
    print(f"Ori is up (data in {layout.data_dir}):\n\n{stack.table()}\n", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        reason = wait_for_stop(stack)
    finally:
        stack.stop()
    print(f"ori-up: {reason}; everything is stopped.", flush=True)
    return 0 if reason.startswith("stopped by") else 1


if __name__ == "__main__":
    sys.exit(main())

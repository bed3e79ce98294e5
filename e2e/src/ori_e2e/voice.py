"""Worker processes for voice tests: start ``ori-worker``, call it, read its results.

:func:`start_worker` runs ``python -m ori_worker`` on a free loopback port with its own
outbox and recordings directory, optionally answering every call with a fixed runtime
config (``STATIC_RUNTIME_CONFIG``) instead of asking a backend. Calls are placed with the
simulator in ``ori_worker.sim``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from minio import Minio

from ori_contracts import CallResult, HttpTool, RuntimeConfig, SttConfig, SttProvider
from ori_contracts.testing import make_runtime_config
from ori_e2e.servers import HOST, ManagedProcess, S3Server, free_port, http_probe

SECRET = "voice-test-secret-0123456789"  # noqa: S105 - a test-only shared secret
WORKER_START_TIMEOUT_S = 60.0

CALLER_LINES = (
    "I would like to book an appointment",
    "Tuesday at ten works for me",
    "What time do you open",
    "Goodbye",
)
"""What the simulated caller says to the demo bot: two rules, the fallback, then goodbye."""

BOT_SPEC_FIELDS = (
    "persona",
    "stt",
    "llm",
    "tts",
    "vad",
    "turn",
    "tools",
    "analysis_fields",
    "qc_rules",
    "dispositions",
    "default_disposition",
    "recording",
    "limits",
)


def offline_bot(book_url: str, **overrides: Any) -> RuntimeConfig:
    """The demo bot on offline providers, recognising :data:`CALLER_LINES`, booking at
    ``book_url`` (no knowledge base, no secret headers)."""
    base = make_runtime_config()
    tools = [
        HttpTool(
            name="book_appointment",
            description="Book an appointment slot for the contact.",
            url=book_url,
            timeout_s=2.0,
            retries=1,
        )
        if tool.name == "book_appointment"
        else tool
        for tool in base.tools
        if tool.type != "search_knowledge"
    ]
    stt = SttConfig(provider=SttProvider.POCKETSPHINX, phrases=list(CALLER_LINES))
    return make_runtime_config(**{"stt": stt, "tools": tools, "knowledge_bases": [], **overrides})


def bot_spec(config: RuntimeConfig, name: str = "Front desk") -> dict[str, Any]:
    """The backend's bot definition (``POST /api/v1/bots``) of a runtime config's bot."""
    data = config.model_dump(mode="json")
    return {"name": name, **{key: data[key] for key in BOT_SPEC_FIELDS}}


class BookingEndpoint:
    """A customer's booking API on loopback: records requests, answers JSON."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length") or 0)
                outer.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                body = json.dumps({"status": "booked", "confirmation": "BSD-1"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # noqa: ARG002 - quiet
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/api/v1/appointments"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@dataclass
class WorkerProcess:
    """A running worker and where its results land."""

    process: ManagedProcess
    port: int
    directory: Path
    host: str = HOST

    @property
    def url(self) -> str:
        """The worker's HTTP base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The worker's WebSocket base URL (what the simulator calls)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port``, as the worker registers it (``WORKER_ADDRESS``)."""
        return f"{self.host}:{self.port}"

    @property
    def outbox(self) -> Path:
        """Results waiting for delivery."""
        return self.directory / "outbox" / "pending"

    def health(self) -> dict[str, object]:
        """The worker's ``/health`` answer."""
        answer: dict[str, object] = httpx.get(f"{self.url}/health", timeout=5).json()
        return answer

    def metrics(self) -> str:
        """The worker's Prometheus metrics text."""
        return httpx.get(f"{self.url}/metrics/", timeout=5).text

    def pending_results(self) -> list[CallResult]:
        """Results in the outbox, not yet delivered."""
        files = sorted(self.outbox.glob("*.json")) if self.outbox.exists() else []
        return [CallResult.model_validate_json(p.read_bytes()) for p in files]

    def wait_result(self, timeout: float = 30.0) -> CallResult:
        """Wait for one result to appear in the outbox and return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            results = self.pending_results()
            if results:
                return results[0]
            if not self.process.running:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.log()}")
            time.sleep(0.2)
        raise AssertionError(f"no result within {timeout:g} s:\n{self.log()}")

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the worker process itself (not its group)."""
        pid = self.process.pid
        if pid is None:
            raise RuntimeError("worker not started")
        import os  # noqa: PLC0415

        os.kill(pid, sig)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the worker to exit; returns its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.returncode
            if code is not None:
                return code
            time.sleep(0.1)
        raise AssertionError(f"worker still running after {timeout:g} s:\n{self.log()}")

    def log(self) -> str:
        """The tail of the worker's log."""
        return self.process.log_tail(80)

    def stop(self) -> None:
        """Stop the worker (SIGTERM to its group, then SIGKILL)."""
        self.process.stop(grace_seconds=10.0)


def worker_env(
    directory: Path,
    s3: S3Server,
    bucket: str,
    *,
    config_url: str = "http://127.0.0.1:9/api/v1/config",
    static_config: Path | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a test worker."""
    env = {
        "VOXBRIDGE_CONFIG_URL": config_url,
        "VOXCORE_SECRET": SECRET,
        "MINIO_ENDPOINT": s3.endpoint,
        "MINIO_ACCESS_KEY": s3.access_key,
        "MINIO_SECRET_KEY": s3.secret_key,
        "MINIO_BUCKET": bucket,
        "MINIO_SECURE": "false",
        "MAX_CONCURRENT_CALLS": "1",
        "OUTBOX_DIR": str(directory / "outbox"),
        "RECORDINGS_DIR": str(directory / "recordings"),
        "OUTBOX_FLUSH_TIMEOUT_S": "3",
        "LOG_LEVEL": "INFO",
        "PYTHONOPTIMIZE": "2",  # as the worker's image runs it
    }
    if static_config is not None:
        env["STATIC_RUNTIME_CONFIG"] = str(static_config)
    return env | (extra or {})


def start_worker(
    directory: Path,
    s3: S3Server,
    bucket: str,
    *,
    config: RuntimeConfig | None = None,
    config_url: str = "http://127.0.0.1:9/api/v1/config",
    extra_env: dict[str, str] | None = None,
    name: str = "worker",
    host: str = HOST,
    port: int | None = None,
) -> WorkerProcess:
    """Start a worker process and wait until it answers ``/health``.

    Args:
        directory: Its working directory (outbox, recordings, log).
        s3: Object storage for recordings.
        bucket: The recordings bucket (must exist).
        config: Answer every call with this config instead of asking ``config_url``.
        config_url: ``VOXBRIDGE_CONFIG_URL`` (results go to the same backend).
        extra_env: More environment variables.
        name: The process name in logs.
        host: The loopback address it binds (``127.0.0.2`` and up stand for pod IPs).
        port: Its port; a free one when None.
    """
    import sys  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    static = None
    if config is not None:
        static = directory / "runtime-config.json"
        static.write_text(json.dumps(config.model_dump(mode="json")))
    port = port or free_port()
    env = worker_env(
        directory, s3, bucket, config_url=config_url, static_config=static, extra=extra_env
    )
    process = ManagedProcess(
        name,
        [sys.executable, "-m", "ori_worker", "--host", host, "--port", str(port)],
        log_path=directory / f"{name}.log",
        env=env,
        cwd=directory,
        grace_seconds=30.0,
    )
    process.start(http_probe(f"http://{host}:{port}/health"), timeout=WORKER_START_TIMEOUT_S)
    return WorkerProcess(process, port, directory, host)


@contextmanager
def offline_fleet(
    root: Path, s3: S3Server, names: Sequence[str], options: Callable[[str], dict[str, Any]]
) -> Iterator[dict[str, WorkerProcess]]:
    """Workers ``names``, started side by side, every call answered by :func:`offline_bot`.

    For fixtures wider than one test: a fresh recordings bucket and booking endpoint of
    their own; ``options(name)`` gives :func:`start_worker`'s keyword arguments (``extra_env``,
    ``host``, ``port``) for each. All are stopped, side by side, on the way out.
    """
    bucket = f"fleet-{uuid.uuid4().hex[:12]}"
    Minio(
        s3.endpoint,
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        secure=s3.secure,
        region=s3.region,
    ).make_bucket(bucket)
    booking = BookingEndpoint()
    config = offline_bot(booking.url)

    def start(name: str) -> WorkerProcess:
        kwargs = {"config": config, "name": name, **options(name)}
        return start_worker(root / name, s3, bucket, **kwargs)

    try:
        with ThreadPoolExecutor(len(names)) as pool:
            started = dict(zip(names, pool.map(start, names), strict=True))
        try:
            yield started
        finally:
            with ThreadPoolExecutor(len(names)) as pool:
                list(pool.map(WorkerProcess.stop, started.values()))
    finally:
        booking.close()


@dataclass
class BackendProcess:
    """A running backend, and an operator account in its own workspace."""

    process: ManagedProcess
    port: int
    env: dict[str, str]
    directory: Path
    token: str = ""
    workspace_id: str = ""

    @property
    def url(self) -> str:
        """The backend's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def config_url(self) -> str:
        """``VOXBRIDGE_CONFIG_URL`` for workers."""
        return f"{self.url}/api/v1/config"

    @property
    def headers(self) -> dict[str, str]:
        """The operator's request headers."""
        return {"Authorization": f"Bearer {self.token}", "X-Workspace-Id": self.workspace_id}

    def signup(self, email: str = "operator@example.com") -> None:
        """Sign up an operator (the workspace's admin) and act as them from now on."""
        answer = httpx.post(
            f"{self.url}/api/v1/auth/signup",
            json={"email": email, "password": "correct horse battery", "name": "Operator"},
            timeout=10,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        auth = {"Authorization": f"Bearer {self.token}"}
        spaces = httpx.get(f"{self.url}/api/v1/workspaces", headers=auth, timeout=10)
        self.workspace_id = spaces.json()[0]["id"]

    def create_bot(self, spec: dict[str, object]) -> str:
        """Create a bot from ``spec``; returns its id."""
        answer = httpx.post(f"{self.url}/api/v1/bots", json=spec, headers=self.headers, timeout=10)
        if answer.status_code != 201:
            raise AssertionError(f"bot not created: {answer.status_code} {answer.text}")
        bot_id: str = answer.json()["id"]
        return bot_id

    def calls(self, **params: str) -> list[dict[str, object]]:
        """Call summaries of the workspace, newest first."""
        answer = httpx.get(
            f"{self.url}/api/v1/calls", params=params, headers=self.headers, timeout=10
        )
        answer.raise_for_status()
        data: list[dict[str, object]] = answer.json()["data"]
        return data

    def call(self, call_id: str) -> dict[str, object]:
        """One call record, with its result."""
        answer = httpx.get(f"{self.url}/api/v1/calls/{call_id}", headers=self.headers, timeout=10)
        answer.raise_for_status()
        record: dict[str, object] = answer.json()
        return record

    def wait_one_record(self, since: float, timeout: float) -> dict[str, object]:
        """The workspace's one ended call record, waited for from ``since`` (monotonic).

        Raises:
            AssertionError: None ended within ``timeout`` seconds of ``since``, or the
                workspace has more than one call.
        """
        while True:
            calls = self.calls()
            ended = [c for c in calls if c.get("status") == "ended"]
            if ended:
                assert len(calls) == 1, calls
                return self.call(str(ended[0]["id"]))
            if time.monotonic() - since > timeout:
                raise AssertionError(f"no ended call record {timeout:g} s after: {calls}")
            time.sleep(0.2)

    def wait_ended(self, call_id: str, timeout: float) -> dict[str, object]:
        """Call ``call_id``'s record once it has ended, waited for up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.call(call_id)
            if record.get("status") == "ended":
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"call {call_id} not ended within {timeout:g} s: {record}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the backend."""
        self.process.stop(grace_seconds=10.0)

    def restart(self) -> None:
        """Start it again on the same port, with the same data."""
        self.process = _backend_process(self.directory, self.port, self.env)


def _backend_process(directory: Path, port: int, env: dict[str, str]) -> ManagedProcess:
    import sys  # noqa: PLC0415

    process = ManagedProcess(
        "backend",
        [sys.executable, "-m", "ori_backend", "--host", HOST, "--port", str(port)],
        log_path=directory / "backend.log",
        env=env,
        cwd=directory,
        grace_seconds=10.0,
    )
    process.start(http_probe(f"http://{HOST}:{port}/health"), timeout=WORKER_START_TIMEOUT_S)
    return process


def start_backend(
    directory: Path,
    mongodb_uri: str,
    mongodb_db: str,
    redis_url: str,
    s3: S3Server,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> BackendProcess:
    """Start the backend (Qdrant in local mode under ``directory``) and sign up an operator."""
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DB": mongodb_db,
        "REDIS_URL": redis_url,
        "JWT_SECRET": "voice-test-jwt-secret-0123456789abcdef",
        "VOXCORE_WSS_BASE_URL": f"ws://{HOST}:1/ws",
        "VOXCORE_SECRET": SECRET,
        "QDRANT_PATH": str(directory / "qdrant"),
        "MINIO_ENDPOINT": s3.endpoint,
        "MINIO_ACCESS_KEY": s3.access_key,
        "MINIO_SECRET_KEY": s3.secret_key,
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    backend = BackendProcess(_backend_process(directory, port, env), port, env, directory)
    backend.signup()
    return backend

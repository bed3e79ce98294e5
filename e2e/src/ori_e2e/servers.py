"""Real servers on loopback for Ori's tests and for `make up`.

Every server here is a real binary (see :mod:`ori_e2e.toolcache`) started as a
:class:`ManagedProcess`: its own process group, stdout+stderr appended to a log file, a readiness
probe bounded by a deadline, and ``stop()`` = SIGTERM to the group, SIGKILL after a grace period.
Everything binds 127.0.0.1 on a free port (or the port given) and keeps its data under the
directory it is given. A start either returns a ready server or raises :class:`ServerError`
(naming the server, the reason, and the tail of its log) with nothing left running;
:class:`~ori_e2e.toolcache.ToolMissing` is raised before anything starts if a binary is absent.

Typical use::

    with start_redis(tmp / "redis") as redis:
        client = redis_asyncio.from_url(redis.url)

    kube = start_kube(tmp / "kube", nodes=2)  # etcd, kube-apiserver, kcm, scheduler, kwok
    os.environ["KUBECONFIG"] = str(kube.kubeconfig)
    ...
    kube.stop()
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import pymongo
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ori_e2e.toolcache import find_binary

__all__ = [
    "HOST",
    "KWOK_NODE_ANNOTATION",
    "Argv",
    "KubeCluster",
    "ManagedProcess",
    "MongoServer",
    "NginxServer",
    "Probe",
    "RedisServer",
    "S3Server",
    "Server",
    "ServerError",
    "WaitTimeout",
    "free_port",
    "http_probe",
    "start_ferretdb",
    "start_kube",
    "start_minio",
    "start_nginx",
    "start_redis",
    "tcp_probe",
    "wait_for",
]

log = logging.getLogger(__name__)

#: Every server binds this address only.
HOST = "127.0.0.1"

#: A readiness check: True when ready. Exceptions count as "not ready yet".
Probe = Callable[[], bool]

#: A command line: the executable, then its arguments.
Argv = list[str | os.PathLike[str]]

T = TypeVar("T")

_PORT_IN_USE = re.compile(r"address already in use|port is already in use|EADDRINUSE", re.I)
_PORT_ATTEMPTS = 3
_TAIL_LINES = 40


# ------------------------------------------------------------------------------------ errors


class ServerError(RuntimeError):
    """A server could not be started, did not become ready, or failed a control call."""

    def __init__(
        self, server: str, reason: str, *, log_path: Path | None = None, log_tail: str = ""
    ) -> None:
        self.server = server
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        message = f"{server}: {reason}"
        if log_path is not None:
            message += f"\n--- last lines of {log_path} ---\n{log_tail.rstrip() or '(empty)'}"
        super().__init__(message)

    @property
    def port_conflict(self) -> bool:
        """Whether the server's log says its port was taken (worth retrying on another)."""
        return bool(_PORT_IN_USE.search(self.log_tail))


class WaitTimeout(TimeoutError):
    """A bounded wait (:func:`wait_for`) reached its deadline."""


# ------------------------------------------------------------------------------------ helpers

_ports_lock = threading.Lock()
_ports_handed_out: set[int] = set()


def free_port() -> int:
    """Return a loopback TCP port that is free now and not handed out before by this process.

    Returns:
        A port number; the caller should bind it soon (another process may still race for it).

    Raises:
        ServerError: No unused port was found.
    """
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = int(sock.getsockname()[1])
            if port not in _ports_handed_out:
                _ports_handed_out.add(port)
                return port
    raise ServerError("free_port", "no unused loopback port found")


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> T:
    """Poll ``condition`` until it returns a truthy value or the deadline passes.

    Args:
        condition: Called repeatedly; a truthy return ends the wait. Exceptions count as
            "not yet" and the last one is reported on timeout.
        timeout: Seconds before giving up.
        what: What is awaited, for the error message.
        interval: Upper bound of the pause between polls (polling starts faster).

    Returns:
        The first truthy value ``condition`` returned.

    Raises:
        WaitTimeout: The deadline passed first.
    """
    deadline = time.monotonic() + timeout
    pause = min(0.02, interval)
    last = "condition was false"
    while True:
        try:
            value = condition()
        except Exception as exc:  # the condition may legitimately fail until ready
            last = f"{type(exc).__name__}: {exc}"
        else:
            if value:
                return value
            last = f"condition returned {value!r}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what} ({last})")
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, interval)


def tcp_probe(port: int, host: str = HOST) -> Probe:
    """Return a probe that succeeds once a TCP connection to ``host:port`` is accepted.

    Args:
        port: The TCP port.
        host: The address to connect to.

    Returns:
        The probe.
    """

    def probe() -> bool:
        with socket.create_connection((host, port), timeout=1.0):
            return True

    return probe


def http_probe(
    url: str,
    *,
    verify: ssl.SSLContext | bool = True,
    headers: Mapping[str, str] | None = None,
    check: Callable[[httpx.Response], bool] | None = None,
) -> Probe:
    """Return a probe that GETs ``url`` and succeeds on a 2xx answer (and ``check``, if given).

    Args:
        url: The URL to fetch.
        verify: TLS verification as httpx takes it.
        headers: Extra request headers (e.g. Authorization).
        check: Optional extra test on the response.

    Returns:
        The probe.
    """

    def probe() -> bool:
        response = httpx.get(url, verify=verify, headers=dict(headers or {}), timeout=2.0)
        return response.is_success and (check is None or check(response))

    return probe


def _remaining(deadline: float, server: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ServerError(server, "the start deadline passed before this step")
    return left


# ------------------------------------------------------------------------------------ processes

_live_lock = threading.Lock()
_live: set[ManagedProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for process in leftovers:
        process.stop(grace_seconds=3.0)


class ManagedProcess:
    """One server process in its own process group, with its output appended to a log file.

    ``start()`` returns only once the readiness probe passes (or raises :class:`ServerError`
    after stopping the process); ``stop()`` sends SIGTERM to the whole group and SIGKILL after
    ``grace_seconds``. Processes still running when the interpreter exits are stopped.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        grace_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = log_path
        self.env = dict(env or {})
        self.cwd = cwd
        self.grace_seconds = grace_seconds
        self.ready_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, log={self.log_path})"

    @property
    def pid(self) -> int | None:
        """The process id, or None before start."""
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited, else None."""
        return None if self._proc is None else self._proc.poll()

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def launch(self) -> None:
        """Start the process without waiting for readiness.

        Raises:
            ServerError: It was already started, or the executable could not be run.
        """
        if self._proc is not None:
            raise ServerError(self.name, "already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            out.write(f"=== {stamp} starting: {' '.join(self.argv)}\n".encode())
            out.flush()
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.env},
                    cwd=self.cwd,
                    start_new_session=True,  # own process group: stop() signals the whole tree
                )
            except OSError as exc:
                raise ServerError(self.name, f"cannot execute {self.argv[0]}: {exc}") from exc
        self._started_at = time.monotonic()
        with _live_lock:
            _live.add(self)

    def wait_ready(self, probe: Probe, *, timeout: float) -> float:
        """Wait until ``probe`` passes, the process exits, or ``timeout`` seconds pass.

        Args:
            probe: The readiness check.
            timeout: Seconds to wait at most.

        Returns:
            Seconds from launch to ready (also stored in ``ready_seconds``).

        Raises:
            ServerError: The process exited or the deadline passed; the message holds the log tail.
        """
        if self._proc is None:
            raise ServerError(self.name, "wait_ready() before launch()")
        deadline = time.monotonic() + timeout
        pause, last = 0.01, "not probed yet"
        while True:
            code = self._proc.poll()
            if code is not None:
                raise self._error(f"exited with code {code} before becoming ready")
            try:
                if probe():
                    self.ready_seconds = time.monotonic() - self._started_at
                    return self.ready_seconds
                last = "probe said not ready"
            except Exception as exc:  # refused connections etc. are expected while starting
                last = f"{type(exc).__name__}: {exc}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._error(f"not ready after {timeout:.0f} s (last probe: {last})")
            time.sleep(min(pause, remaining))
            pause = min(pause * 1.5, 0.2)

    def start(self, probe: Probe | None = None, *, timeout: float = 60.0) -> float:
        """Launch the process and, given a probe, wait for readiness.

        Args:
            probe: The readiness check; without one the process counts as ready at once.
            timeout: Seconds to wait for readiness.

        Returns:
            Seconds from launch to ready.

        Raises:
            ServerError: Launch failed or the process did not become ready; it is stopped first.
        """
        self.launch()
        if probe is None:
            self.ready_seconds = 0.0
            return 0.0
        try:
            return self.wait_ready(probe, timeout=timeout)
        except BaseException:
            self.stop(grace_seconds=2.0)
            raise

    def stop(self, grace_seconds: float | None = None) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after the grace period. Idempotent.

        Args:
            grace_seconds: Override of the instance's grace period.
        """
        proc = self._proc
        if proc is None:
            return
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        if proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.1f s; killing it", self.name, grace)
                self._signal_group(signal.SIGKILL)
                proc.wait(timeout=10.0)
        self._signal_group(signal.SIGKILL)  # children that outlived the leader (nginx workers)
        with _live_lock:
            _live.discard(self)

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the log file (empty if there is none).

        Args:
            lines: How many lines to return.

        Returns:
            The tail, decoded leniently.
        """
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 64 * 1024))
                data = handle.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _error(self, reason: str) -> ServerError:
        return ServerError(self.name, reason, log_path=self.log_path, log_tail=self.log_tail())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _start_process(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    probe: Probe,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    process = ManagedProcess(name, argv, log_path=log_path, env=env, cwd=cwd)
    process.start(probe, timeout=timeout)
    return process


def _with_port_retry(server: str, port: int | None, launch: Callable[[int], T]) -> T:
    """Run ``launch(port)``; with no fixed port, retry on fresh ports after a port race."""
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else free_port()
        try:
            return launch(chosen)
        except ServerError as err:
            if attempt == attempts or not err.port_conflict:
                raise
            log.warning("%s: port %d was taken; retrying on another port", server, chosen)
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------------------------ servers


@dataclass(kw_only=True)
class Server:
    """A started server: where it listens, how long it took, and how to stop it."""

    name: str
    host: str
    port: int
    url: str
    processes: list[ManagedProcess]
    ready_seconds: float

    @property
    def log_paths(self) -> list[Path]:
        """The log file of each process behind this server."""
        return [p.log_path for p in self.processes]

    def stop(self) -> None:
        """Stop every process of this server, last started first. Idempotent."""
        for process in reversed(self.processes):
            process.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(kw_only=True)
class RedisServer(Server):
    """redis-server; ``url`` is ``redis://127.0.0.1:<port>`` (database 0)."""

    databases: int

    def db_url(self, db: int) -> str:
        """Return the URL of one numbered database.

        Args:
            db: Database index, below ``databases``.

        Returns:
            ``redis://127.0.0.1:<port>/<db>``.
        """
        if not 0 <= db < self.databases:
            raise ValueError(f"redis database {db} out of range 0..{self.databases - 1}")
        return f"{self.url}/{db}"


@dataclass(kw_only=True)
class MongoServer(Server):
    """FerretDB (MongoDB wire protocol over SQLite); ``url`` is ``mongodb://127.0.0.1:<port>/``."""


@dataclass(kw_only=True)
class S3Server(Server):
    """MinIO; ``url`` is ``http://127.0.0.1:<port>``, ``endpoint`` is ``127.0.0.1:<port>``."""

    access_key: str
    secret_key: str
    region: str = "us-east-1"
    secure: bool = False

    @property
    def endpoint(self) -> str:
        """``host:port``, as the ``minio`` client takes it."""
        return f"{self.host}:{self.port}"


@dataclass(kw_only=True)
class NginxServer(Server):
    """nginx; ``url`` is ``http://127.0.0.1:<port>``."""

    workdir: Path
    conf_path: Path


def start_redis(
    data_dir: Path,
    port: int | None = None,
    *,
    databases: int = 64,
    persistent: bool = False,
    timeout: float = 30.0,
) -> RedisServer:
    """Start redis-server on loopback with its files in ``data_dir``.

    Args:
        data_dir: Working directory for dump/AOF files and the log (``redis.log``).
        port: TCP port; a free one when None.
        databases: Number of numbered databases (tests hand out one each).
        persistent: Keep data across restarts (append-only file); off for tests.
        timeout: Seconds to wait for PING to answer.

    Returns:
        The running server.

    Raises:
        ToolMissing: redis-server is not installed.
        ServerError: It did not become ready.
    """
    binary = find_binary("redis")
    data_dir.mkdir(parents=True, exist_ok=True)
    persistence = ["--appendonly", "yes"] if persistent else ["--appendonly", "no", "--save", ""]

    def launch(chosen: int) -> RedisServer:
        argv: Argv = [binary, "--bind", HOST, "--port", str(chosen), "--dir", str(data_dir)]
        argv += ["--databases", str(databases), "--daemonize", "no", "--protected-mode", "yes"]
        argv += ["--logfile", "", *persistence]
        process = _start_process(
            "redis",
            argv,
            log_path=data_dir / "redis.log",
            probe=_redis_probe(chosen),
            timeout=timeout,
        )
        return RedisServer(
            name="redis",
            host=HOST,
            port=chosen,
            url=f"redis://{HOST}:{chosen}",
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            databases=databases,
        )

    return _with_port_retry("redis", port, launch)


def _redis_probe(port: int) -> Probe:
    def probe() -> bool:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    return probe


def start_ferretdb(
    data_dir: Path, port: int | None = None, *, timeout: float = 60.0
) -> MongoServer:
    """Start FerretDB v1 (MongoDB wire protocol, SQLite storage) on loopback.

    Args:
        data_dir: Holds ``sqlite/`` (one SQLite file per database) and ``ferretdb.log``.
        port: TCP port; a free one when None.
        timeout: Seconds to wait for a ``ping`` command to succeed.

    Returns:
        The running server.

    Raises:
        ToolMissing: FerretDB is not built.
        ServerError: It did not become ready.
    """
    binary = find_binary("ferretdb")
    sqlite_dir = data_dir / "sqlite"
    sqlite_dir.mkdir(parents=True, exist_ok=True)

    def launch(chosen: int) -> MongoServer:
        url = f"mongodb://{HOST}:{chosen}/"
        argv: Argv = [binary, f"--listen-addr={HOST}:{chosen}", f"--sqlite-dir={sqlite_dir}"]
        process = _start_process(
            "ferretdb",
            [*argv, "--log-level=warn"],
            log_path=data_dir / "ferretdb.log",
            probe=_mongo_probe(url),
            timeout=timeout,
        )
        return MongoServer(
            name="ferretdb",
            host=HOST,
            port=chosen,
            url=url,
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
        )

    return _with_port_retry("ferretdb", port, launch)


def _mongo_probe(url: str) -> Probe:
    def probe() -> bool:
        tcp_probe(int(url.rsplit(":", 1)[1].strip("/")))()
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, directConnection=True
        )
        try:
            return bool(client.admin.command("ping").get("ok"))
        finally:
            client.close()

    return probe


def start_minio(
    data_dir: Path,
    port: int | None = None,
    *,
    access_key: str = "ori-test",
    secret_key: str = "ori-test-secret",  # noqa: S107 - a throwaway local test credential
    timeout: float = 60.0,
) -> S3Server:
    """Start a single-drive MinIO S3 server on loopback.

    Args:
        data_dir: Holds ``data/`` (the drive), ``certs/`` (empty; keeps MinIO out of ~/.minio)
            and ``minio.log``.
        port: S3 API port; a free one when None. The (disabled) console gets another free port.
        access_key: Root user (at least 3 characters).
        secret_key: Root password (at least 8 characters).
        timeout: Seconds to wait for ``/minio/health/cluster``.

    Returns:
        The running server, with its credentials.

    Raises:
        ToolMissing: MinIO is not built.
        ServerError: It did not become ready.
    """
    binary = find_binary("minio")
    drive, certs = data_dir / "data", data_dir / "certs"
    drive.mkdir(parents=True, exist_ok=True)
    certs.mkdir(parents=True, exist_ok=True)
    env = {
        "MINIO_ROOT_USER": access_key,
        "MINIO_ROOT_PASSWORD": secret_key,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
    }

    def launch(chosen: int) -> S3Server:
        url = f"http://{HOST}:{chosen}"
        argv: Argv = [binary, "server", drive, "--address", f"{HOST}:{chosen}"]
        argv += ["--console-address", f"{HOST}:{free_port()}", "--certs-dir", certs, "--quiet"]
        process = _start_process(
            "minio",
            argv,
            log_path=data_dir / "minio.log",
            # /minio/health/ready answers 200 before the object layer, bucket metadata and IAM
            # are up; S3 calls then get 503 + Retry-After: 60, which minio-py obeys (a 60 s
            # stall). /minio/health/cluster is 200 only once all of them are ready.
            probe=http_probe(f"{url}/minio/health/cluster"),
            timeout=timeout,
            env=env,
        )
        return S3Server(
            name="minio",
            host=HOST,
            port=chosen,
            url=url,
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            access_key=access_key,
            secret_key=secret_key,
        )

    return _with_port_retry("minio", port, launch)


_NGINX_MAIN = """\
{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log stderr notice;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log {workdir}/logs/access.log;
  client_body_temp_path {workdir}/tmp/client_body;
  proxy_temp_path {workdir}/tmp/proxy;
  fastcgi_temp_path {workdir}/tmp/fastcgi;
  uwsgi_temp_path {workdir}/tmp/uwsgi;
  scgi_temp_path {workdir}/tmp/scgi;
  types {{
    text/html html htm; text/plain txt; text/css css; application/javascript js mjs;
    application/json json; image/svg+xml svg; image/png png; audio/wav wav;
  }}
  default_type application/octet-stream;
{body}
}}
"""


def start_nginx(
    conf_text: str, workdir: Path, port: int | None = None, *, timeout: float = 30.0
) -> NginxServer:
    """Start nginx with the given ``http {}`` body, all its files under ``workdir``.

    ``conf_text`` is the content of the ``http`` block (``server``/``upstream`` blocks). It must
    listen on the literal placeholder ``{{port}}`` (e.g. ``listen 127.0.0.1:{{port}};``), and may
    use ``{{workdir}}`` for paths; both are replaced textually. The harness supplies the main
    context (pid, error log to the process log, temp paths, MIME types, ``daemon off``).

    Args:
        conf_text: The ``http {}`` body with ``{{port}}`` (and optionally ``{{workdir}}``).
        workdir: Holds ``nginx.conf``, ``nginx.log`` (error log), ``logs/access.log``, ``tmp/``.
        port: Port to substitute for ``{{port}}``; a free one when None.
        timeout: Seconds to wait for the port to accept connections.

    Returns:
        The running server.

    Raises:
        ValueError: ``conf_text`` has no ``{{port}}`` placeholder.
        ToolMissing: nginx is not installed.
        ServerError: It did not become ready (e.g. a config error; the log says which).
    """
    if "{{port}}" not in conf_text:
        raise ValueError("nginx conf_text must listen on the placeholder {{port}}")
    binary = find_binary("nginx")
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    conf_path = workdir / "nginx.conf"

    def launch(chosen: int) -> NginxServer:
        body = conf_text.replace("{{port}}", str(chosen)).replace("{{workdir}}", str(workdir))
        # As root the workers would drop to `nobody`, who cannot read a 0700 pytest tmp dir.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf_path.write_text(_NGINX_MAIN.format(user=user, workdir=workdir, body=body))
        argv: Argv = [binary, "-p", workdir, "-c", conf_path, "-e", "stderr"]
        process = ManagedProcess("nginx", argv, log_path=workdir / "nginx.log")
        process.start(_nginx_probe(process, workdir / "nginx.pid", chosen), timeout=timeout)
        return NginxServer(
            name="nginx",
            host=HOST,
            port=chosen,
            url=f"http://{HOST}:{chosen}",
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            workdir=workdir,
            conf_path=conf_path,
        )

    return _with_port_retry("nginx", port, launch)


def _nginx_probe(process: ManagedProcess, pid_file: Path, port: int) -> Probe:
    # nginx retries a taken port for ~2.5 s, and meanwhile a bare TCP probe would reach the
    # other listener; its pid file is written only once all its sockets are bound.
    def probe() -> bool:
        if pid_file.read_text().strip() != str(process.pid):
            return False
        return tcp_probe(port)()

    return probe


# ------------------------------------------------------------------------------------ kubernetes

#: Annotation that tells the kwok controller a Node is one of its fake nodes.
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
_SERVICE_CIDR = "10.96.0.0/16"
_POD_CIDR = "10.244.0.0/16"


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
    paths.kwok_config.write_text(_KWOK_STAGES)
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
        process = _start_process(
            "kube-apiserver",
            argv,
            log_path=paths.logs / "kube-apiserver.log",
            probe=_apiserver_probe(url, paths.ca_file, token),
            timeout=timeout,
        )
        return process, url

    return _with_port_retry("kube-apiserver", port, launch)


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
    running anything.

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


# The stages kwokctl gives the kwok controller by default (kwok v0.8.0,
# kustomize/stage/node/{fast,heartbeat-with-lease} and kustomize/stage/pod/fast, Apache-2.0),
# trimmed of the kubelet port. Without stages kwok refuses to start.
_KWOK_STAGES = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type  | Quote}}
      {{ end }}
      addresses:
      {{ with .status.addresses }}
      {{ YAML . 1 }}
      {{ else }}
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      {{ end }}
      allocatable:
      {{ with .status.allocatable }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}
      capacity:
      {{ with .status.capacity }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}
      {{ $nodeInfo := .status.nodeInfo }}
      {{ $kwokVersion := printf "kwok-%s" Version }}
      nodeInfo:
        architecture: {{ or $nodeInfo.architecture "amd64" }}
        bootID: {{ or $nodeInfo.bootID `""` }}
        containerRuntimeVersion: {{ or $nodeInfo.containerRuntimeVersion $kwokVersion }}
        kernelVersion: {{ or $nodeInfo.kernelVersion $kwokVersion }}
        kubeProxyVersion: {{ or $nodeInfo.kubeProxyVersion $kwokVersion }}
        kubeletVersion: {{ or $nodeInfo.kubeletVersion $kwokVersion }}
        machineID: {{ or $nodeInfo.machineID `""` }}
        operatingSystem: {{ or $nodeInfo.operatingSystem "linux" }}
        osImage: {{ or $nodeInfo.osImage `""` }}
        systemUUID: {{ or $nodeInfo.systemUUID `""` }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-heartbeat-with-lease
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: In
      values: [Running]
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: In
      values: ['True']
  delay:
    durationMilliseconds: 600000
    jitterDurationMilliseconds: 610000
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: [Pending]
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      {{ range .spec.readinessGates }}
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: {{ .conditionType | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        {{ if eq .restartPolicy "Always" }}
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
        {{ else }}
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
        {{ end }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: [Running]
    - key: '.metadata.ownerReferences.[].kind'
      operator: In
      values: [Job]
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
"""  # noqa: E501 - kwok's own template line

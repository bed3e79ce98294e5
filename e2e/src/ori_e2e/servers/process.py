"""Processes and readiness: the machinery every server in this package is started with."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

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

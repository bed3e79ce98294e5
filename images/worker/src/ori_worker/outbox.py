"""The durable result outbox: a call's result survives the backend being down and restarts.

A result is written to ``<OUTBOX_DIR>/pending/<call_id>.json`` atomically (temporary file,
fsync, rename, fsync of the directory) before anything tries to send it, so a worker that
dies after hang-up still has it on disk when it starts again. A delivery task sends pending
results oldest first and deletes each once the backend answers 200 (ingestion is idempotent
on ``call_id``, so a result delivered twice is stored once). A network error, a timeout or a
5xx, 408 or 429 answer is retried with exponential backoff; any other 4xx means the backend
will never accept the document, and it moves to ``dead/`` with the answer beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from ori_contracts import CallResult
from ori_contracts.wire import bearer

log = logging.getLogger(__name__)

_RETRYABLE_4XX = frozenset({408, 425, 429})


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either nothing or the whole file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between delivery attempts."""

    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (at least 1)."""
        return min(self.max_s, self.first_s * self.factor ** max(0, failures - 1))


class Outbox:
    """Pending results on disk and the task that delivers them."""

    def __init__(
        self,
        directory: Path,
        url: str,
        secret: str,
        client: httpx.AsyncClient,
        *,
        backoff: Backoff | None = None,
        timeout_s: float = 10.0,
        on_delivery: Callable[[str], None] | None = None,
    ) -> None:
        self.pending_dir = directory / "pending"
        self.dead_dir = directory / "dead"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.dead_dir.mkdir(parents=True, exist_ok=True)
        self.url = url
        self._secret = secret
        self._client = client
        self._backoff = backoff or Backoff()
        self._timeout_s = timeout_s
        self._on_delivery = on_delivery
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ storage

    def put(self, result: CallResult) -> Path:
        """Store ``result`` durably and wake the delivery task; returns its file."""
        path = self.pending_dir / f"{result.call_id}.json"
        write_atomically(path, result.model_dump_json().encode())
        self._idle.clear()
        self._wake.set()
        return path

    def pending(self) -> list[Path]:
        """Pending result files, oldest first."""
        files = [p for p in self.pending_dir.glob("*.json") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    # ------------------------------------------------------------------ delivery

    def start(self) -> None:
        """Start the delivery task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="result-outbox")

    async def stop(self) -> None:
        """Stop the delivery task; undelivered results stay on disk for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self, timeout_s: float) -> bool:
        """Wait until nothing is pending or ``timeout_s`` passes; True if all were delivered."""
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while self.pending():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=min(remaining, 0.5))
        return True

    async def _run(self) -> None:
        failures = 0
        while True:
            files = self.pending()
            if not files:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            delivered_all = True
            for path in files:
                if not await self._deliver(path):
                    delivered_all = False
                    break
            if delivered_all:
                failures = 0
                continue
            failures += 1
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._backoff.delay(failures))

    async def _deliver(self, path: Path) -> bool:
        """Send one result; True when it is settled (delivered or dead), False to retry."""
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return True
        try:
            response = await self._client.post(
                self.url,
                content=body,
                headers={**bearer(self._secret), "content-type": "application/json"},
                timeout=self._timeout_s,
            )
        except httpx.HTTPError as exc:
            log.warning(
                "result %s not delivered yet: %s",
                path.stem,
                type(exc).__name__,
                extra={"call_id": path.stem},
            )
            self._count("retry")
            return False
        status = response.status_code
        if status < 300:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            log.info("result %s delivered", path.stem, extra={"call_id": path.stem})
            self._count("delivered")
            return True
        if 400 <= status < 500 and status not in _RETRYABLE_4XX:
            self._bury(path, status, response.text)
            return True
        log.warning(
            "result %s not accepted yet: HTTP %d", path.stem, status, extra={"call_id": path.stem}
        )
        self._count("retry")
        return False

    def _bury(self, path: Path, status: int, text: str) -> None:
        target = self.dead_dir / path.name
        path.replace(target)
        note = {"status": status, "answer": text[:4000], "at": time.time()}
        write_atomically(target.with_suffix(".reason.json"), json.dumps(note).encode())
        log.error(
            "result %s refused with HTTP %d; kept in %s",
            path.stem,
            status,
            target,
            extra={"call_id": path.stem},
        )
        self._count("refused")

    def _count(self, outcome: str) -> None:
        if self._on_delivery is not None:
            self._on_delivery(outcome)

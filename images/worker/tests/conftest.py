"""Worker test fixtures: worker processes (``booking`` comes from ``ori_e2e``'s plugin)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ori_e2e.servers import S3Server
from ori_e2e.voice import CALLER_LINES, BookingEndpoint, WorkerProcess, offline_bot, start_worker

__all__ = ["CALLER_LINES", "BookingEndpoint", "WorkerFactory", "offline_bot"]


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_factory(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> Iterator[WorkerFactory]:
    """Start worker processes (stopped at the end); each gets its own directory."""
    started: list[WorkerProcess] = []

    def start(name: str = "worker", **kwargs: Any) -> WorkerProcess:
        worker = start_worker(tmp_path / name, s3_server, s3_bucket, name=name, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()

"""CPU time and memory of processes, from Linux ``/proc``, for the worker benchmark.

Everything here is cheap enough to call during a call: ``/proc/<pid>/stat`` and ``status``
are constant-time reads. ``smaps_rollup`` (unique memory) walks the process's whole address
space in the kernel, so the bench reads it rarely.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int | None) -> float:
    """CPU seconds (user and system) a process has used; 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def self_cpu_s() -> float:
    """CPU seconds this process has used (the simulated callers, in the bench)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine have spent on anything but idling."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    # guest time is already counted in user time
    return (sum(values[:8]) - idle) / _TICK


def reset_peak_rss(pid: int | None) -> None:
    """Start measuring a process's peak resident memory afresh (``VmHWM`` := ``VmRSS``)."""
    if pid is not None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pid: int | None) -> float:
    """A process's peak resident memory since start or the last :func:`reset_peak_rss`."""
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def uss_mb(pid: int | None) -> float:
    """Memory only this process maps (private pages): what one more worker costs a host."""
    if pid is None:
        return 0.0
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value, *_ = line.split()
            fields[name.rstrip(":")] = int(value)
    except (OSError, ValueError):
        return 0.0
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU counters at one moment: the machine, each worker, the bench's own servers, us."""

    wall: float
    machine: float
    workers: tuple[float, ...]
    servers: float
    bench: float

    @classmethod
    def take(cls, workers: Iterable[int | None], servers: Iterable[int | None]) -> CpuSnapshot:
        """Read every counter now."""
        return cls(
            wall=time.monotonic(),
            machine=machine_busy_s(),
            workers=tuple(cpu_s(pid) for pid in workers),
            servers=sum(cpu_s(pid) for pid in servers),
            bench=self_cpu_s(),
        )


@dataclass(frozen=True)
class CpuUse:
    """Where the machine's CPU went between two snapshots, in cores (1.0 = one core busy)."""

    seconds: float
    workers: tuple[float, ...]
    """Each worker's CPU seconds."""
    machine_cores: float
    workers_cores: float
    servers_cores: float
    """The backend, FerretDB, Redis and MinIO the bench started."""
    callers_cores: float
    """The simulated callers (the bench process itself)."""

    @property
    def others_cores(self) -> float:
        """Everything else on the machine: other people's work."""
        ours = self.workers_cores + self.servers_cores + self.callers_cores
        return max(0.0, self.machine_cores - ours)

    @classmethod
    def between(cls, start: CpuSnapshot, end: CpuSnapshot) -> CpuUse:
        """The difference of two snapshots."""
        seconds = max(end.wall - start.wall, 1e-3)
        workers = tuple(b - a for a, b in zip(start.workers, end.workers, strict=True))
        return cls(
            seconds=seconds,
            workers=workers,
            machine_cores=(end.machine - start.machine) / seconds,
            workers_cores=sum(workers) / seconds,
            servers_cores=(end.servers - start.servers) / seconds,
            callers_cores=(end.bench - start.bench) / seconds,
        )

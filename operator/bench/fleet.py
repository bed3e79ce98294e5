"""Fleet benchmark: allocation throughput, scale-up time, busy workers lost, reconcile latency.

    uv run python operator/bench/fleet.py            # or: make bench-fleet

Runs against real servers from the tools cache (redis-server, and the kwok control plane for
the operator parts), prints a table (measured value beside its goal) and writes
`build/bench/fleet.json`:

* `alloc_per_s`, `double_allocations`: 64 concurrent claimers make 10,000 claims (each
  followed by its release) over 256 registered workers; a worker handed to a second call while
  the first holds it is a double allocation.
* `scaleup_50_s`: `replicas: 50` applied to an empty pool until 50 worker pods are Running.
* `busy_deleted_on_scaledown`: a randomised run of scale events while calls start and end;
  any pod deleted while it holds a call counts.
* `reconcile_p95_ms`: p95 of the operator's own reconcile histogram over the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from ori_contracts.allocation import ClaimOutcome
from ori_e2e.servers import (
    KubeCluster,
    start_kube,
    start_redis,
)
from ori_e2e.toolcache import find_binary
from ori_operator.allocator import Allocator
from ori_operator.kube import Kube
from ori_operator.testing import Kubectl, OperatorProcess, WorkerSimulator, repo_root

POOL = "bench"
GOALS: dict[str, tuple[str, float | None]] = {
    "alloc_per_s": (">=", 2000.0),
    "double_allocations": ("==", 0),
    "scaleup_50_s": ("<", 30.0),
    "busy_deleted_on_scaledown": ("==", 0),
    "reconcile_p95_ms": ("report", None),
}


# ------------------------------------------------------------------------------ allocation


@dataclass
class AllocationRun:
    """Counters of the allocation run; `holders` maps a worker to the call holding it."""

    claims: int = 0
    full: int = 0
    doubles: int = 0
    holders: dict[str, str] = field(default_factory=dict)


async def bench_allocation(
    redis_url: str, *, claimers: int, claims: int, workers: int
) -> dict[str, float]:
    """Claim-and-release cycles by `claimers` concurrent clients; count double allocations."""
    redis = Redis.from_url(redis_url, max_connections=claimers + 8)
    alloc = Allocator(redis)
    for i in range(workers):
        await alloc.heartbeat(f"w{i}", POOL, f"10.1.{i // 250}.{i % 250 + 1}:8000")
    run = AllocationRun()
    next_call = iter(range(10**9))

    issued = 0

    async def claimer() -> None:
        nonlocal issued
        while issued < claims:
            issued += 1
            call_id = f"call_{next(next_call)}"
            result = await alloc.claim(POOL, call_id)
            if result.outcome is not ClaimOutcome.CLAIMED or result.worker_id is None:
                run.full += 1
                issued -= 1
                continue
            run.claims += 1
            if result.worker_id in run.holders:
                run.doubles += 1
            run.holders[result.worker_id] = call_id
            del run.holders[result.worker_id]  # the call ends: forget it before freeing
            await alloc.release(result.worker_id, POOL, call_id)

    started = time.perf_counter()
    await asyncio.gather(*(claimer() for _ in range(claimers)))
    elapsed = time.perf_counter() - started
    await redis.aclose()
    return {
        "alloc_per_s": run.claims / elapsed,
        "double_allocations": run.doubles,
        "alloc_claims": run.claims,
        "alloc_full_answers": run.full,
        "alloc_seconds": elapsed,
    }


# ------------------------------------------------------------------------------ operator


def start_operator(
    kube: KubeCluster, namespace: str, redis_url: str, log_dir: Path
) -> OperatorProcess:
    """The operator against the bench cluster (default reconcile interval, as deployed)."""
    env = {
        "KUBECONFIG": str(kube.kubeconfig),
        "REDIS_URL": redis_url,
        "WATCH_NAMESPACES": namespace,
        "LOG_LEVEL": "WARNING",
    }
    operator = OperatorProcess(env, log_dir / "operator.log")
    operator.start()
    return operator


def counter(metrics: str, name: str, label: str) -> float:
    """One labelled counter's value in a Prometheus exposition (0 when absent)."""
    for line in metrics.splitlines():
        if line.startswith(f"{name}{{") and f'"{label}"' in line:
            return float(line.split()[-1])
    return 0.0


def _histogram_quantile(text: str, name: str, q: float) -> float:
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{") and 'kind="FleetPool"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return float("nan")
    rank, previous_bound, previous_count = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return previous_bound
            share = (rank - previous_count) / max(count - previous_count, 1e-9)
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, count
    return previous_bound


def _pool_yaml(**spec: Any) -> str:
    fields = "".join(f"  {key}: {value}\n" for key, value in spec.items())
    return (f"apiVersion: ori.dev/v1alpha1\nkind: FleetPool\nmetadata:\n  name: {POOL}\n"
            f"spec:\n{fields}  template:\n    image: ori-worker:bench\n")  # fmt: skip


async def _running(kube: Kube, namespace: str) -> int:
    pods = await kube.list_pods(namespace, f"ori.dev/fleetpool={POOL}")
    return sum(
        p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        for p in pods
    )


async def bench_scaleup(kubectl: Kubectl, kube: Kube, namespace: str, replicas: int) -> float:
    """Seconds from applying `replicas` to that many worker pods Running."""
    started = time.perf_counter()
    kubectl.apply(_pool_yaml(replicas=replicas, max_replicas=100, drain_timeout_s=3600))
    deadline = started + 120
    while await _running(kube, namespace) < replicas:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{replicas} pods not Running after 120 s")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


@dataclass
class Calls:
    """The benchmark's own book of live calls: worker -> call."""

    live: dict[str, str] = field(default_factory=dict)
    started: int = 0
    ended: int = 0


async def bench_scaledown(
    kubectl: Kubectl, kube: Kube, alloc: Allocator, namespace: str, *, seconds: float, seed: int
) -> dict[str, float]:
    """Random scale events while calls start and end; count pods deleted holding a call."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    calls = Calls()
    busy_deleted: list[str] = []
    stop = asyncio.Event()

    counter = 0
    scale_events = 0

    async def caller() -> None:
        nonlocal counter
        while not stop.is_set():
            if calls.live and rng.random() < 0.45:
                worker, call_id = rng.choice(sorted(calls.live.items()))
                del calls.live[worker]
                await alloc.release(worker, POOL, call_id)
                calls.ended += 1
            else:
                counter += 1
                result = await alloc.claim(POOL, f"call_{counter}")
                if result.ok and result.worker_id and result.worker_id not in calls.live:
                    calls.live[result.worker_id] = f"call_{counter}"
                    calls.started += 1
            await asyncio.sleep(rng.uniform(0.01, 0.15))

    async def scaler() -> None:
        nonlocal scale_events
        while not stop.is_set():
            kubectl.run("scale", f"fleetpool/{POOL}", f"--replicas={rng.randint(1, 40)}")
            scale_events += 1
            await asyncio.sleep(rng.uniform(0.5, 2.0))

    async def watcher() -> None:
        previous: set[str] = set()
        while not stop.is_set():
            pods = await kube.list_pods(namespace, f"ori.dev/fleetpool={POOL}")
            alive = {
                p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")
            }
            for gone in previous - alive:
                if gone in calls.live:  # deleted while it held a call
                    busy_deleted.append(gone)
            previous = alive
            await asyncio.sleep(0.05)

    jobs = [caller() for _ in range(4)] + [scaler(), watcher()]
    tasks = [asyncio.create_task(job, name=f"bench-{i}") for i, job in enumerate(jobs)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "busy_deleted_on_scaledown": len(busy_deleted),
        "scaledown_calls_started": calls.started,
        "scaledown_calls_ended": calls.ended,
        "scaledown_scale_events": scale_events,
        "scaledown_seconds": seconds,
    }


async def bench_operator(
    work: Path, redis_url: str, *, seconds: float, seed: int
) -> dict[str, float]:
    """The operator parts, on a fresh kwok control plane."""
    cluster = start_kube(work / "kube", nodes=2)
    namespace = "bench"
    try:
        cluster.create_namespace(namespace)
        kubectl = Kubectl(find_binary("kubernetes", "kubectl"), cluster.kubeconfig, namespace)
        kubectl.install_crds()
        operator = start_operator(cluster, namespace, redis_url, work)
        kube = await Kube.connect(cluster.kubeconfig)
        redis = Redis.from_url(redis_url)
        alloc = Allocator(redis)
        stop = asyncio.Event()
        simulator = WorkerSimulator(kube, alloc, namespace, POOL)
        beating = asyncio.create_task(simulator.run(stop, interval_s=0.5), name="simulator")
        try:
            results = {"scaleup_50_s": await bench_scaleup(kubectl, kube, namespace, 50)}
            results |= await bench_scaledown(
                kubectl, kube, alloc, namespace, seconds=seconds, seed=seed
            )
            metrics = operator.metrics()
            p95 = _histogram_quantile(metrics, "ori_operator_reconcile_duration_seconds", 0.95)
            results["reconcile_p95_ms"] = p95 * 1000
            results["scaledown_drains"] = counter(
                metrics, "ori_operator_pod_actions_total", "drain"
            )
        finally:
            stop.set()
            await beating
            operator.stop()
            await kube.close()
            await redis.aclose()
        return results
    finally:
        cluster.stop()


# ------------------------------------------------------------------------------ report


def _verdict(name: str, value: float) -> str:
    op, goal = GOALS[name]
    if op == "report" or goal is None:
        return "(reported)"
    ok = {">=": value >= goal, "==": value == goal, "<": value < goal}[op]
    return f"{op} {goal:g}  {'ok' if ok else 'MISSED'}"


def report(results: dict[str, float], out: Path) -> None:
    """Print the table and write the JSON."""
    lines = [f"{'metric':<28} {'measured':>12}   goal", "-" * 60]
    for name in GOALS:
        value = results[name]
        shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        lines.append(f"{name:<28} {shown:>12}   {_verdict(name, value)}")
    sys.stdout.write("\n".join(lines) + "\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {out}\n")


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    """Start Redis, run every part, stop everything."""
    with tempfile.TemporaryDirectory(prefix="ori-bench-") as tmp:
        work = Path(tmp)
        redis = start_redis(work / "redis")
        try:
            results = await bench_allocation(
                redis.db_url(1), claimers=args.claimers, claims=args.claims, workers=args.workers
            )
            results |= await bench_operator(
                work, redis.db_url(2), seconds=args.seconds, seed=args.seed
            )
        finally:
            redis.stop()
    return results


def main() -> int:
    """Run the benchmark; exit 1 if a goal was missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claimers", type=int, default=64)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=45.0, help="randomised scale-down run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=repo_root() / "build" / "bench" / "fleet.json")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    report(results, args.out)
    failed = [n for n in GOALS if GOALS[n][0] != "report" and "MISSED" in _verdict(n, results[n])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

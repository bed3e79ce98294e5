# ruff: noqa: T201 - a command-line program
"""Benchmark the backend on this machine: runtime config, result ingestion, CSV import.

    uv run python images/backend/bench/bench_backend.py   (make bench-backend)

Starts Redis and FerretDB from the tools cache and the backend as its own process on
loopback (the tests' own set-up, ``ori_e2e.backend``), then measures with bounded request
counts and prints a table; the numbers go to ``build/bench/backend.json``:

- runtime config (warm cache, 32 clients): ``config_rps`` flat out (with its latencies
  ``config_max_p50_ms``/``config_max_p99_ms``), then ``config_p50_ms``/``config_p99_ms`` with
  the same clients paced to 500 requests/s in all (``config_paced_rps`` achieved);
- ``ingest_per_s``: call results stored, 8 clients;
- contact import of 10,000 and 100,000 rows (13 MB) side by side: seconds, rows/s and the
  backend process's peak RSS during each import (Linux ``VmHWM``, reset before each), whose
  ratio shows the import streams.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx

from ori_contracts.ids import new_call_id
from ori_contracts.testing import make_call_result
from ori_e2e.backend import FLEET_SECRET, backend_env, bot_spec, run_backend, sign_up
from ori_e2e.servers import start_ferretdb, start_redis

SECRET = FLEET_SECRET
CONCURRENCY = 32
CONFIG_REQUESTS = 8000
PACED_RPS = 500.0
INGESTS = 500
CSV_ROWS = 100_000
CSV_ROWS_SMALL = 10_000
NOTE = "n" * 100  # a 100-character notes column: ~130 bytes a row, 13 MB at 100,000 rows


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return round(cuts[49], 2), round(cuts[98], 2)


async def _config_bench(base: str, bot_id: str) -> dict[str, float]:
    """Runtime config, warm cache, 32 clients: flat out, then paced at ``PACED_RPS``.

    The client is aiohttp: httpx spends more CPU per request than the backend does, and on
    two shared cores the load generator would otherwise be what is measured. Paced latencies
    are timed from when each request was due, so a late client cannot hide queueing.
    """
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    bodies = [
        json.dumps(
            {
                "call_id": new_call_id(),
                "bot_id": bot_id,
                "direction": "inbound",
                "telephony": "websocket",
            }
        ).encode()  # fmt: skip
        for _ in range(CONCURRENCY)
    ]
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:

        async def ask(body: bytes) -> None:
            async with session.post("/api/v1/config", data=body) as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"config answered {answer.status}")

        for body in bodies:  # warm the cache
            await ask(body)
        flat: list[float] = []

        async def flat_out(body: bytes) -> None:
            for _ in range(CONFIG_REQUESTS // CONCURRENCY):
                started = time.perf_counter()
                await ask(body)
                flat.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(flat_out(body) for body in bodies))
        rps = len(flat) / (time.perf_counter() - started)
        paced: list[float] = []
        interval = CONCURRENCY / PACED_RPS
        start = time.perf_counter() + 0.1

        async def on_schedule(body: bytes, due: float) -> None:
            for _ in range(CONFIG_REQUESTS // CONCURRENCY):
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await ask(body)
                paced.append((time.perf_counter() - due) * 1000)
                due += interval

        offsets = [start + i * interval / CONCURRENCY for i in range(CONCURRENCY)]
        await asyncio.gather(
            *(on_schedule(body, due) for body, due in zip(bodies, offsets, strict=True))
        )
        paced_rps = len(paced) / (time.perf_counter() - start)
    p50, p99 = _percentiles(paced)
    max_p50, max_p99 = _percentiles(flat)
    return {
        "config_p50_ms": p50,
        "config_p99_ms": p99,
        "config_paced_rps": round(paced_rps, 1),
        "config_rps": round(rps, 1),
        "config_max_p50_ms": max_p50,
        "config_max_p99_ms": max_p99,
    }


async def _ingest_bench(http: httpx.AsyncClient, workspace_id: str) -> dict[str, float]:
    fleet = {"Authorization": f"Bearer {SECRET}"}
    bodies = [
        make_call_result(call_id=new_call_id(), workspace_id=workspace_id).model_dump(mode="json")
        for _ in range(INGESTS)
    ]
    queue = list(bodies)

    async def client() -> None:
        while queue:
            (
                await http.post("/api/v1/call-results", json=queue.pop(), headers=fleet)
            ).raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(8)))
    return {"ingest_per_s": round(INGESTS / (time.perf_counter() - started), 1)}


def _status_kb(pid: int, field: str) -> int:
    """A ``VmRSS``/``VmHWM`` figure of a process, in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def _reset_peak(pid: int) -> None:
    """Reset a process's peak RSS (``VmHWM``) to its current RSS (Linux ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _csv_rows(count: int) -> AsyncIterator[bytes]:
    """A contact file of ``count`` rows, sent in chunks (the client never holds it whole)."""
    yield b"phone,name,notes\n"
    for start in range(0, count, 1000):
        yield "".join(
            f"+1415{2000000 + i:07d},Contact {i},{NOTE}\n"
            for i in range(start, min(count, start + 1000))
        ).encode()


async def _csv_import(
    http: httpx.AsyncClient, headers: dict[str, str], bot_id: str, rows: int, pid: int
) -> dict[str, float]:
    """One import into a fresh campaign, with the backend process's peak RSS during it."""
    campaign = await http.post(
        "/api/v1/campaigns", json={"name": f"bench {rows}", "bot_id": bot_id}, headers=headers
    )
    before_kb = _status_kb(pid, "VmRSS")
    _reset_peak(pid)
    started = time.perf_counter()
    answer = await http.post(
        f"/api/v1/campaigns/{campaign.json()['id']}/contacts",
        content=_csv_rows(rows),
        headers={**headers, "Content-Type": "text/csv"},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    if answer.json()["imported"] != rows:
        raise RuntimeError(f"imported {answer.json()['imported']} of {rows} rows")
    peak_kb = _status_kb(pid, "VmHWM")
    size = len(b"phone,name,notes\n") + sum(
        len(f"+1415{2000000 + i:07d},Contact {i},{NOTE}\n") for i in range(rows)
    )
    return {
        "file_mb": round(size / 2**20, 1),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_growth_mb": round((peak_kb - before_kb) / 1024, 1),
    }


async def _csv_bench(
    http: httpx.AsyncClient, headers: dict[str, str], bot_id: str, pid: int
) -> dict[str, float]:
    small = await _csv_import(http, headers, bot_id, CSV_ROWS_SMALL, pid)
    large = await _csv_import(http, headers, bot_id, CSV_ROWS, pid)
    results: dict[str, float] = {
        "csv_rows": CSV_ROWS,
        "csv_seconds": large["seconds"],
        "csv_rows_per_s": large["rows_per_s"],
    }
    for rows, figures in ((CSV_ROWS_SMALL, small), (CSV_ROWS, large)):
        results |= {f"csv_{rows // 1000}k_{key}": value for key, value in figures.items()}
    results["csv_peak_rss_ratio_100k_vs_10k"] = round(
        large["peak_rss_mb"] / small["peak_rss_mb"], 2
    )
    results["csv_rss_growth_ratio_100k_vs_10k"] = round(
        large["rss_growth_mb"] / max(small["rss_growth_mb"], 0.1), 2
    )
    results["csv_rows_ratio_100k_vs_10k"] = CSV_ROWS / CSV_ROWS_SMALL
    return results


async def _run(base: str, pid: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        account = await sign_up(http, "bench@example.com", name="B")
        headers = {"Authorization": f"Bearer {account.token}"}
        workspace_id = account.workspace_id
        bot = (await http.post("/api/v1/bots", json=bot_spec(name="Bench"), headers=headers)).json()
        results = await _config_bench(base, bot["id"])
        results |= await _ingest_bench(http, workspace_id)
        results |= await _csv_bench(http, headers, bot["id"], pid)
    return results


def _print_tables(results: dict[str, float]) -> None:
    goals = {
        "config_p99_ms": f"< 20 (at {PACED_RPS:.0f}/s offered)",
        "config_rps": ">= 500 (32 clients flat out)",
        "csv_seconds": "< 30 (100k rows)",
    }
    print(f"{'metric':<18} {'value':>10}  goal")
    for key in ("config_p50_ms", "config_p99_ms", "config_paced_rps", "config_rps",
                "config_max_p50_ms", "config_max_p99_ms", "ingest_per_s", "csv_rows",
                "csv_seconds", "csv_rows_per_s"):  # fmt: skip
        print(f"{key:<18} {results[key]:>10}  {goals.get(key, '')}")
    print()
    print("contact import (one backend process, its peak RSS during each import):")
    columns = ("file_mb", "seconds", "rows_per_s", "peak_rss_mb", "rss_growth_mb")
    print(f"{'rows':>8} " + " ".join(f"{c:>13}" for c in columns))
    for rows in (CSV_ROWS_SMALL, CSV_ROWS):
        figures = " ".join(f"{results[f'csv_{rows // 1000}k_{c}']:>13}" for c in columns)
        print(f"{rows:>8} {figures}")
    print(
        f"{'ratio':>8} {'':>13} {'':>13} {'':>13} "
        f"{results['csv_peak_rss_ratio_100k_vs_10k']:>13} "
        f"{results['csv_rss_growth_ratio_100k_vs_10k']:>13}"
        f"  (100k / 10k, for {results['csv_rows_ratio_100k_vs_10k']:.0f}x the rows)"
    )


def main() -> int:
    """Run the benchmark, print the table and write the JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis, mongo = start_redis(root / "redis"), start_ferretdb(root / "mongo")
        env = backend_env(
            root,
            mongodb_uri=mongo.url,
            mongodb_db="bench",
            redis_url=redis.url,
            LOG_LEVEL="WARNING",
            MAX_UPLOAD_MB="64",  # the 100,000-row file is 13 MB
        )
        try:
            with run_backend(root / "backend", env) as backend:
                results = asyncio.run(_run(backend.url, backend.pid))
        finally:
            mongo.stop()
            redis.stop()
    out = Path(os.environ.get("ORI_BENCH_DIR", "build/bench")) / "backend.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    _print_tables(results)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

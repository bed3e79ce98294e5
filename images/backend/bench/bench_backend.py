# ruff: noqa: T201, S105 - a command-line program with a throwaway local secret
"""Benchmark the backend on this machine: runtime config, result ingestion, CSV import.

    uv run python images/backend/bench/bench_backend.py   (make bench-backend)

Starts Redis and FerretDB from the tools cache and the backend as its own process on
loopback, then measures with bounded request counts and prints a table; the numbers go to
``build/bench/backend.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ori_contracts.ids import new_call_id
from ori_contracts.testing import make_call_result, make_runtime_config
from ori_e2e.servers import ManagedProcess, free_port, http_probe, start_ferretdb, start_redis

SECRET = "bench-fleet-secret-0123456789"
CONCURRENCY = 32
CONFIG_REQUESTS = 4000
INGESTS = 500
CSV_ROWS = 100_000


def _spec() -> dict:
    config = make_runtime_config().model_dump(mode="json")
    keep = [
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
    ]
    spec = {k: config[k] for k in keep}
    spec["tools"] = [t for t in spec["tools"] if t["type"] != "search_knowledge"]
    return {"name": "Bench", **spec}


async def _config_bench(http: httpx.AsyncClient, bot_id: str) -> dict[str, float]:
    call_ids = [new_call_id() for _ in range(CONCURRENCY)]

    def body(cid: str) -> dict[str, str]:
        return {"call_id": cid, "bot_id": bot_id, "direction": "inbound", "telephony": "websocket"}

    fleet = {"Authorization": f"Bearer {SECRET}"}
    for cid in call_ids:  # warm the cache
        (await http.post("/api/v1/config", json=body(cid), headers=fleet)).raise_for_status()
    latencies: list[float] = []

    async def client(cid: str, n: int) -> None:
        for _ in range(n):
            started = time.perf_counter()
            answer = await http.post("/api/v1/config", json=body(cid), headers=fleet)
            latencies.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(client(cid, CONFIG_REQUESTS // CONCURRENCY) for cid in call_ids))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "config_p50_ms": round(statistics.median(latencies), 2),
        "config_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "config_rps": round(len(latencies) / elapsed, 1),
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


async def _csv_bench(
    http: httpx.AsyncClient, headers: dict[str, str], bot_id: str
) -> dict[str, float]:
    campaign = await http.post(
        "/api/v1/campaigns", json={"name": "bench", "bot_id": bot_id}, headers=headers
    )
    rows = "".join(f"+1415{2000000 + i:07d},Contact {i}\n" for i in range(CSV_ROWS))
    body = ("phone,name\n" + rows).encode()
    started = time.perf_counter()
    answer = await http.post(
        f"/api/v1/campaigns/{campaign.json()['id']}/contacts",
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return {
        "csv_rows": CSV_ROWS,
        "csv_seconds": round(elapsed, 2),
        "csv_rows_per_s": round(CSV_ROWS / elapsed, 1),
    }


async def _run(base: str) -> dict[str, float]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        signed = await http.post(
            "/api/v1/auth/signup",
            json={"email": "bench@example.com", "password": "correct horse battery", "name": "B"},
        )
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        workspace_id = (await http.get("/api/v1/workspaces", headers=headers)).json()[0]["id"]
        bot = (await http.post("/api/v1/bots", json=_spec(), headers=headers)).json()
        results = await _config_bench(http, bot["id"])
        results |= await _ingest_bench(http, workspace_id)
        results |= await _csv_bench(http, headers, bot["id"])
    return results


def main() -> int:
    """Run the benchmark, print the table and write the JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis, mongo = start_redis(root / "redis"), start_ferretdb(root / "mongo")
        port = free_port()
        env = {
            "MONGODB_URI": mongo.url,
            "MONGODB_DB": "bench",
            "REDIS_URL": redis.url,
            "JWT_SECRET": "bench-jwt-secret-0123456789abcdef",
            "VOXCORE_WSS_BASE_URL": "ws://127.0.0.1:1/ws",
            "VOXCORE_SECRET": SECRET,
            "QDRANT_PATH": str(root / "qdrant"),
            "LOG_LEVEL": "WARNING",
            "MAX_UPLOAD_MB": "64",
        }
        backend = ManagedProcess(
            "backend",
            [sys.executable, "-m", "ori_backend", "--port", str(port)],
            log_path=root / "backend.log",
            env=env,
            cwd=root,
        )
        try:
            backend.start(http_probe(f"http://127.0.0.1:{port}/health"), timeout=60)
            results = asyncio.run(_run(f"http://127.0.0.1:{port}"))
        finally:
            backend.stop()
            mongo.stop()
            redis.stop()
    out = Path(os.environ.get("ORI_BENCH_DIR", "build/bench")) / "backend.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    goals = {"config_p99_ms": "< 20", "config_rps": ">= 500", "csv_seconds": "< 30 (100k rows)"}
    print(f"{'metric':<16} {'value':>12}  goal")
    for key, value in results.items():
        print(f"{key:<16} {value:>12}  {goals.get(key, '')}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

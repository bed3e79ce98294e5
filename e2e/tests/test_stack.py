"""`make up`: the local stack starts wired as in production, answers health, and stops on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ori_e2e.servers import free_port
from ori_e2e.stack import Infra, Layout, Secrets, backend_env, dialler_env, worker_env

STARTUP_DEADLINE_S = 180


@pytest.mark.unit
def test_services_are_wired_to_each_other(tmp_path: Path) -> None:
    layout = Layout(data_dir=tmp_path, backend_port=18080, worker_ports=(18001, 18002))
    infra = Infra(
        redis_url="redis://127.0.0.1:1",
        mongodb_uri="mongodb://127.0.0.1:2/",
        s3_endpoint="127.0.0.1:3",
    )
    keys = Secrets.load_or_create(tmp_path / "secrets.json")
    backend, worker, dialler = (
        f(layout, infra, keys) for f in (backend_env, worker_env, dialler_env)
    )

    assert worker["VOXBRIDGE_CONFIG_URL"] == "http://127.0.0.1:18080/api/v1/config"
    assert json.loads(dialler["FLEET_URLS"]) == ["http://127.0.0.1:18001", "http://127.0.0.1:18002"]
    assert worker["VOXCORE_SECRET"] == dialler["VOXCORE_SECRET"] == backend["VOXCORE_SECRET"]
    assert backend["MONGODB_DB"] == dialler["MONGODB_DB"]
    assert worker["MAX_CONCURRENT_CALLS"] == "1"
    assert Secrets.load_or_create(tmp_path / "secrets.json") == keys  # stable across runs
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def wait_for_banner(proc: subprocess.Popen[str], out: Path) -> str:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        text = out.read_text()
        if "Press Ctrl-C to stop." in text:
            return text
        if proc.poll() is not None:
            pytest.fail(f"ori-up exited with {proc.returncode} before it was up:\n{text}")
        time.sleep(0.5)
    proc.kill()
    pytest.fail(f"ori-up was not up after {STARTUP_DEADLINE_S} s:\n{out.read_text()}")


@pytest.mark.e2e
def test_make_up_serves_health_and_stops_cleanly(tmp_path: Path) -> None:
    backend, dialler = free_port(), free_port()
    workers = [free_port(), free_port()]
    out = tmp_path / "ori-up.out"
    argv = [
        sys.executable,
        "-m",
        "ori_e2e.stack",
        "--data-dir",
        str(tmp_path / "data"),
        "--backend-port",
        str(backend),
        "--dialler-port",
        str(dialler),
        "--worker-ports",
        ",".join(map(str, workers)),
    ]
    with out.open("w") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        banner = wait_for_banner(proc, out)
        assert f"http://127.0.0.1:{backend}" in banner

        health = httpx.get(f"http://127.0.0.1:{backend}/health", timeout=10).json()
        assert health["checks"] == {"mongodb": "ok", "redis": "ok", "qdrant": "ok"}
        for port in workers:
            body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
            assert (body["slots"], body["busy"], body["state"]) == (1, 0, "idle")

        # The dialler reaches every worker through FLEET_URLS and the shared database.
        deadline = time.monotonic() + 30
        while True:
            body = httpx.get(f"http://127.0.0.1:{dialler}/health", timeout=10).json()
            if body["fleet_free_slots"] == len(workers) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert body["mongodb"] == "ok"
        assert body["fleet_free_slots"] == len(workers), body
    finally:
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=60)

    assert returncode == 0, out.read_text()
    assert "everything is stopped" in out.read_text()
    for port in (backend, dialler, *workers):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)

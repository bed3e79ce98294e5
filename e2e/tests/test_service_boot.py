"""Each service refuses to start without a required variable, and names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

FULL = {
    "ori_backend": {
        "MONGODB_URI": "mongodb://127.0.0.1:1",
        "MONGODB_DB": "voxbridge",
        "REDIS_URL": "redis://127.0.0.1:1",
        "JWT_SECRET": "x" * 32,
        "VOXCORE_WSS_BASE_URL": "wss://voice.example.com/ws",
    },
    "ori_worker": {
        "VOXBRIDGE_CONFIG_URL": "http://127.0.0.1:8080/api/v1/config",
        "MINIO_ENDPOINT": "127.0.0.1:9000",
        "MINIO_ACCESS_KEY": "ori",
        "MINIO_SECRET_KEY": "secret-secret",
        "MINIO_BUCKET": "recordings",
        "MAX_CONCURRENT_CALLS": "1",
        "VOXCORE_SECRET": "s" * 24,
    },
    "ori_dialler": {
        "MONGODB_URI": "mongodb://127.0.0.1:1",
        "MONGODB_DB": "voxbridge",
        "FLEET_URLS": '["http://127.0.0.1:8001"]',
        "VOXCORE_SECRET": "s" * 24,
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "secret",
        "LIVEKIT_TRUNK_ID": "ST_local",
    },
}


def boot(module: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, "-m", module],
        env=base | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "missing"),
    [(m, v) for m, env in FULL.items() for v in env],
)
def test_service_exits_naming_the_missing_variable(
    module: str, missing: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in FULL[module].items() if k != missing}
    result = boot(module, env, tmp_path)
    assert result.returncode == 78, result.stderr
    assert f"{missing} is required but not set" in result.stderr
    assert result.stderr.count("is required but not set") == 1


@pytest.mark.parametrize(
    ("module", "name", "value"),
    [
        ("ori_dialler", "FLEET_URLS", "http://a.example.com,http://b.example.com"),
        ("ori_dialler", "HEALTH_PORT", "eighty"),
        ("ori_worker", "MAX_CONCURRENT_CALLS", "0"),
        ("ori_worker", "MINIO_ENDPOINT", "http://127.0.0.1:9000"),
        ("ori_backend", "MONGODB_URI", "postgres://127.0.0.1/x"),
        ("ori_backend", "OTEL_ENABLED", "maybe"),
    ],
)
def test_service_exits_naming_a_malformed_variable(
    module: str, name: str, value: str, tmp_path: Path
) -> None:
    result = boot(module, FULL[module] | {name: value}, tmp_path)
    assert result.returncode == 78, result.stderr
    assert f"{name} is invalid" in result.stderr


def test_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    env = dict(FULL["ori_dialler"])
    trunk = env.pop("LIVEKIT_TRUNK_ID")
    del env["MONGODB_DB"]
    (tmp_path / ".env").write_text(f"LIVEKIT_TRUNK_ID={trunk}\nFLEET_URLS=not-json\n")
    result = boot("ori_dialler", env, tmp_path)
    assert result.returncode == 78
    assert "MONGODB_DB is required but not set" in result.stderr
    assert "LIVEKIT_TRUNK_ID" not in result.stderr  # read from .env
    assert "FLEET_URLS" not in result.stderr  # the environment wins over .env

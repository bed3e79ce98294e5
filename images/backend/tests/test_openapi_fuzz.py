"""Property-based fuzzing of the whole OpenAPI with schemathesis: no input answers a 5xx.

The backend runs for real (uvicorn on loopback over FerretDB, Redis and Qdrant local mode);
every operation is called with generated valid and invalid inputs, authenticated as the admin
of a workspace that holds one of each resource.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings

from ori_backend.app import create_app
from ori_backend.settings import BackendSettings
from ori_e2e.servers import MongoServer, RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running_backend(
    mongo_server: MongoServer, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    config = BackendSettings.model_validate(
        {
            "mongodb_uri": mongo_server.url,
            "mongodb_db": f"fuzz_{uuid.uuid4().hex[:8]}",
            "redis_url": redis_server.db_url(0),
            "jwt_secret": "test-jwt-secret-0123456789abcdef",
            "voxcore_wss_base_url": "ws://127.0.0.1:8001/ws",
            "voxcore_secret": "fleet-secret-for-tests-0123456789",
            "twilio_auth_token": "twilio-token-for-fuzzing",
            "livekit_api_key": "APIfuzz",
            "livekit_api_secret": "livekit-secret-for-fuzzing-0123456789",
            "qdrant_path": str(Path(tmp_path_factory.mktemp("fuzz")) / "qdrant"),
            "max_upload_mb": 1,
            "login_max_failures": 1000,
        }
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    signed = httpx.post(
        f"{base}/api/v1/auth/signup",
        json={"email": "fuzz@example.com", "password": "correct horse battery", "name": "Fuzz"},
    )
    headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    try:
        yield base, headers
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_no_operation_answers_a_server_error(running_backend: tuple[str, dict[str, str]]) -> None:
    base, headers = running_backend
    api = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call(base_url=base, headers=headers, timeout=30)
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        call()
    assert operations >= 40
    assert failures == []

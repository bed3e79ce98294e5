"""Direct outbound calls: the most free worker takes the call; no capacity is a clear 503.

The workers here are stand-ins on loopback that speak the worker's wire (`/health` slots and
`POST /attach` with an `AttachRequest`), since a worker process needs telephony to do more.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ori_backend.settings import BackendSettings
from ori_contracts.wire import AttachRequest

pytestmark = pytest.mark.integration

SECRET = "fleet-secret-for-tests-0123456789"  # conftest.FLEET_SECRET


class Worker:
    def __init__(self, free: int, accept: bool = True) -> None:
        self.free, self.accept, self.attached = free, accept, []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]

        async def health(_: Request) -> JSONResponse:
            return JSONResponse(
                {"status": "ok", "slots": 4, "free": self.free, "busy": 4 - self.free}
            )

        async def attach(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {SECRET}":
                return JSONResponse({"detail": "bad secret"}, status_code=401)
            if not self.accept:
                return JSONResponse({"detail": "busy"}, status_code=409)
            self.attached.append(AttachRequest.model_validate(await request.json()))
            return JSONResponse({"ok": True})

        app = Starlette(
            routes=[Route("/health", health), Route("/attach", attach, methods=["POST"])]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Worker:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def workers():
    with Worker(free=1) as a, Worker(free=3, accept=False) as b, Worker(free=2) as c:
        yield a, b, c


@pytest.fixture
def settings(settings: BackendSettings, workers) -> BackendSettings:
    return settings.model_copy(update={"fleet_urls": [w.url for w in workers]})


async def test_call_goes_to_the_most_free_worker_that_accepts(
    client: httpx.AsyncClient, signup, bot_spec, workers
) -> None:
    account = await signup()
    bot = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    answer = await client.post(
        "/api/v1/calls",
        json={"bot_id": bot.json()["id"], "to_number": "+14155550142"},
        headers=account.headers,
    )
    assert answer.status_code == 201, answer.text
    a, b, c = workers
    assert answer.json()["worker"] == c.url  # b has more free slots but refuses (409)
    assert c.attached[-1].call_id == answer.json()["id"]
    record = await client.get(f"/api/v1/calls/{answer.json()['id']}", headers=account.headers)
    assert (record.json()["status"], record.json()["direction"]) == ("created", "outbound")


async def test_no_capacity_is_503(client: httpx.AsyncClient, signup, bot_spec, workers) -> None:
    account = await signup()
    bot = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    for worker in workers:
        worker.free = 0
    try:
        answer = await client.post(
            "/api/v1/calls",
            json={"bot_id": bot.json()["id"], "to_number": "+14155550142"},
            headers=account.headers,
        )
    finally:
        workers[0].free, workers[1].free, workers[2].free = 1, 3, 2
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "no worker is free" in answer.json()["message"]


async def test_unknown_bot_is_404(client: httpx.AsyncClient, signup) -> None:
    account = await signup()
    answer = await client.post(
        "/api/v1/calls",
        json={"bot_id": "bot_missing", "to_number": "+14155550142"},
        headers=account.headers,
    )
    assert answer.status_code == 404

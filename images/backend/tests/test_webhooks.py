"""CRM push to a real local HTTP receiver: signed, retried, visible, retryable, durable."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ori_backend.app import create_app
from ori_backend.settings import BackendSettings
from ori_contracts.ids import new_call_id
from ori_contracts.testing import make_call_result
from ori_contracts.wire import CALL_RESULTS_PATH, bearer
from ori_e2e.backend import FLEET_SECRET, Signup

pytestmark = pytest.mark.integration

FLEET = bearer(FLEET_SECRET)


class Receiver:
    """A CRM endpoint on loopback that fails the first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]

        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=500 if len(self.received) <= self.failures else 204)

        app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def _wait(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    predicate: Callable[[list[dict[str, Any]]], bool],
    what: str,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        deliveries: list[dict[str, Any]] = (
            await client.get("/api/v1/webhook-deliveries", headers=headers)
        ).json()
        if predicate(deliveries):
            return deliveries
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {deliveries}")


async def test_failed_push_is_visible_and_retryable_then_signed(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    with Receiver(failures=1) as receiver:
        hook = await client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "bot_ids": ["appointment-demo"]},
            headers=account.headers,
        )
        assert hook.status_code == 201
        secret = hook.json()["secret"]
        skipped = await client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "bot_ids": ["another-bot"]},
            headers=account.headers,
        )
        assert skipped.status_code == 201
        call_id = new_call_id()
        result = make_call_result(call_id=call_id, workspace_id=account.workspace_id)
        await client.post(CALL_RESULTS_PATH, json=result.model_dump(mode="json"), headers=FLEET)
        await client.post(CALL_RESULTS_PATH, json=result.model_dump(mode="json"), headers=FLEET)
        failed = await _wait(
            client,
            account.headers,
            lambda d: bool(d) and d[0]["attempts"] == 1,
            "the first attempt",
        )
        assert len(failed) == 1
        assert failed[0]["status"] == "pending"
        assert failed[0]["last_status_code"] == 500
        retried = await client.post(
            f"/api/v1/webhook-deliveries/{failed[0]['id']}/retry", headers=account.headers
        )
        assert retried.status_code == 200
        await _wait(client, account.headers, lambda d: d[0]["status"] == "delivered", "delivery")
    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["x-ori-signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert headers["x-ori-delivery"] == failed[0]["id"]
    assert call_id.encode() in body


async def test_pending_deliveries_survive_a_restart(
    settings: BackendSettings,
    client: httpx.AsyncClient,
    signup: Signup,
    app: FastAPI,
    tmp_path: Path,
) -> None:
    account = await signup()
    with Receiver(failures=0) as receiver:
        await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=account.headers)
        await app.state.deliveries.stop()  # the first process "dies" before sending
        result = make_call_result(call_id=new_call_id(), workspace_id=account.workspace_id)
        await client.post(CALL_RESULTS_PATH, json=result.model_dump(mode="json"), headers=FLEET)
        assert receiver.received == []
        restarted = create_app(settings.model_copy(update={"qdrant_path": str(tmp_path / "q2")}))
        async with restarted.router.lifespan_context(restarted):
            deadline = time.monotonic() + 15
            while not receiver.received and time.monotonic() < deadline:  # noqa: ASYNC110 - polls another thread
                await asyncio.sleep(0.1)
    assert len(receiver.received) == 1

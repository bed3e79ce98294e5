"""The call router's nginx configuration, exactly as the chart renders it, on loopback.

Two stand-in workers listen on 127.0.0.2 and 127.0.0.3 (same port, as pods do). A call is
claimed in Redis first, then its WebSocket goes through nginx to the claimed worker, which
checks the per-call token; every reconnect of the call lands on the same worker.
"""

from __future__ import annotations

import asyncio
import http
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from ori_contracts import allocation
from ori_contracts.allocation import InvalidCallToken
from ori_e2e.servers import NginxServer, free_port, start_nginx
from ori_e2e.toolcache import find_binary
from ori_operator.allocator import Allocator
from ori_operator.testing import repo_root

pytestmark = pytest.mark.integration

SECRET = "router-test-shared-secret-0123456789"
POOL = "default"
CHART = repo_root() / "charts" / "ori"


@dataclass
class StandInWorker:
    """A worker's call endpoint: checks the call token, then echoes who it is."""

    worker_id: str
    host: str
    port: int
    paths: list[str] = field(default_factory=list)
    server: Server | None = None

    async def start(self) -> None:
        self.server = await serve(
            self.handle, self.host, self.port, process_request=self.check_token
        )

    def check_token(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path == "/health":
            return connection.respond(http.HTTPStatus.OK, "ok\n")
        call_id = parts.path.rsplit("/", 1)[-1]
        token = parse_qs(parts.query).get("token", [""])[0]
        try:
            allocation.verify_call_token(
                SECRET, token, call_id=call_id, worker_id=self.worker_id, now=time.time()
            )
        except InvalidCallToken as error:
            return connection.respond(http.HTTPStatus.FORBIDDEN, f"{error}\n")
        return None

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.paths.append(connection.request.path)
        async for message in connection:
            await connection.send(json.dumps({"worker": self.worker_id, "echo": message}))


def router_conf(port: int) -> str:
    """The chart's router.conf, rendered by helm, listening on loopback."""
    values = [
        "--set",
        "router.workerCIDRs={127.0.0.0/8}",
        "--set",
        f"router.workerPorts={{{port}}}",
    ]
    rendered = subprocess.run(
        [str(find_binary("helm")), "template", "t", str(CHART), "--kube-version", "1.35.4",
         "--show-only", "templates/router/configmap.yaml", *values],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    conf: str = yaml.safe_load(rendered)["data"]["router.conf"]
    assert "listen 8080;" in conf
    return conf.replace("listen 8080;", "listen 127.0.0.1:{{port}};")


@pytest.fixture
async def workers() -> AsyncIterator[list[StandInWorker]]:
    port = free_port()
    pair = [StandInWorker("default-a1b2c", "127.0.0.2", port),
            StandInWorker("default-d3e4f", "127.0.0.3", port)]  # fmt: skip
    for worker in pair:
        await worker.start()
    yield pair
    for worker in pair:
        assert worker.server is not None
        worker.server.close()
        await worker.server.wait_closed()


@pytest.fixture
def router(workers: list[StandInWorker], tmp_path: Path) -> Iterator[NginxServer]:
    server = start_nginx(router_conf(workers[0].port), tmp_path / "nginx")
    yield server
    server.stop()


@pytest.fixture
async def alloc(redis_url: str, workers: list[StandInWorker]) -> AsyncIterator[Allocator]:
    redis = Redis.from_url(redis_url)
    allocator = Allocator(redis)
    for worker in workers:
        await allocator.heartbeat(worker.worker_id, POOL, f"{worker.host}:{worker.port}")
    yield allocator
    await redis.aclose()


def call_url(router: NginxServer, address: str, worker_id: str, call_id: str) -> str:
    token = allocation.sign_call_token(
        SECRET, call_id=call_id, worker_id=worker_id, expires_at=int(time.time()) + 60
    )
    path = allocation.routed_path(address, f"/media/{call_id}?token={token}")
    return f"ws://127.0.0.1:{router.port}{path}"


async def talk(url: str, message: str) -> dict[str, str]:
    async with connect(url, open_timeout=5) as ws:
        await ws.send(message)
        answer: dict[str, str] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return answer


async def test_a_claimed_call_reaches_its_worker_and_reconnects_land_there_again(
    router: NginxServer, workers: list[StandInWorker], alloc: Allocator
) -> None:
    claimed = {}
    for call_id in ("call_one", "call_two"):
        result = await alloc.claim(POOL, call_id)
        assert result.ok and result.worker_id and result.address
        claimed[call_id] = (result.worker_id, result.address)
    assert len({worker for worker, _ in claimed.values()}) == 2  # one call per worker

    for call_id, (worker_id, address) in claimed.items():
        for attempt in range(3):  # the first connection and two reconnects
            again = await alloc.claim(POOL, call_id)  # a reconnect asks for its worker again
            assert (again.worker_id, again.address) == (worker_id, address)
            url = call_url(router, again.address or "", worker_id, call_id)
            answer = await talk(url, f"{call_id} #{attempt}")
            assert answer == {"worker": worker_id, "echo": f"{call_id} #{attempt}"}
    for worker in workers:
        assert len(worker.paths) == 3
        assert all(p.startswith("/media/call_") and "token=v1." in p for p in worker.paths)


async def test_the_worker_refuses_a_token_for_another_call_or_worker(
    router: NginxServer, workers: list[StandInWorker]
) -> None:
    a, b = workers
    address_a = f"{a.host}:{a.port}"
    with pytest.raises(InvalidStatus) as refused:
        await talk(call_url(router, address_a, b.worker_id, "call_x"), "hi")  # b's token
    assert refused.value.response.status_code == 403
    token = allocation.sign_call_token(SECRET, call_id="call_y", worker_id=a.worker_id,
                                       expires_at=int(time.time()) + 60)  # fmt: skip
    url = f"ws://127.0.0.1:{router.port}" + allocation.routed_path(
        address_a, f"/media/call_z?token={token}"
    )
    with pytest.raises(InvalidStatus):
        await talk(url, "hi")
    assert a.paths == []


async def test_the_router_forwards_only_to_the_pod_network_and_worker_ports(
    router: NginxServer, workers: list[StandInWorker]
) -> None:
    port = workers[0].port
    async with httpx.AsyncClient(base_url=router.url, timeout=5) as client:
        assert (await client.get("/healthz")).text == "ok\n"
        assert (await client.get(f"/w/127.0.0.2/{port}/health")).status_code == 200
        assert (await client.get(f"/w/169.254.169.254/{port}/latest")).status_code == 403
        assert (await client.get(f"/w/10.1.2.3/{port}/health")).status_code == 403
        assert (await client.get("/w/127.0.0.2/22/health")).status_code == 403
        assert (await client.get("/w/worker-0/8000/health")).status_code == 404
        assert (await client.get("/anything")).status_code == 404


async def test_the_worker_sees_the_path_and_query_exactly_as_sent(
    router: NginxServer, workers: list[StandInWorker]
) -> None:
    a = workers[0]
    url = call_url(router, f"{a.host}:{a.port}", a.worker_id, "call_q")
    await talk(url.replace("?token=", "?lang=en-US&token="), "x")
    assert a.paths[0].startswith("/media/call_q?lang=en-US&token=v1.")

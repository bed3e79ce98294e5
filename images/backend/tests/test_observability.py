"""Observability: Prometheus `/metrics` after real traffic, and OTLP/HTTP traces.

Metrics are read back as Prometheus text and parsed with `prometheus_client.parser`. Tracing
runs the backend as its own process with `OTEL_ENABLED=true` against a local OTLP/HTTP receiver
that decodes the real protobuf (`ExportTraceServiceRequest`), as a collector would.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from ori_e2e.backend import Signup
from ori_e2e.servers import ManagedProcess, MongoServer, free_port, http_probe

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_and_time_requests_by_route_template(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    before = _samples((await client.get("/metrics/")).text)
    for _ in range(5):
        assert (await client.get("/api/v1/bots", headers=account.headers)).status_code == 200
    for n in range(3):
        missing = await client.get(f"/api/v1/bots/bot_missing{n}", headers=account.headers)
        assert missing.status_code == 404
    for _ in range(2):
        assert (await client.get("/api/v1/bots")).status_code == 401
    scraped = await client.get("/metrics/")
    assert scraped.headers["content-type"].startswith("text/plain")
    after = _samples(scraped.text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    total = "ori_backend_requests_total"
    assert grew(total, method="GET", route="/api/v1/bots", status="200") == 5
    assert grew(total, method="GET", route="/api/v1/bots", status="401") == 2
    assert grew(total, method="GET", route="/api/v1/bots/{bot_id}", status="404") == 3
    assert not any("bot_missing" in value for _, labels in after for _, value in labels)
    seconds = "ori_backend_request_seconds"
    route = {"method": "GET", "route": "/api/v1/bots/{bot_id}"}
    assert grew(f"{seconds}_count", **route) == 3
    assert grew(f"{seconds}_sum", **route) > 0
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in after.items()
        if name == f"{seconds}_bucket" and {("route", route["route"]), ("method", "GET")} <= labels
    )
    counts = [value for _, value in buckets]
    assert counts == sorted(counts)  # cumulative buckets
    assert buckets[-1] == (float("inf"), _value(after, f"{seconds}_count", **route))


class _Collector(BaseHTTPRequestHandler):
    """OTLP/HTTP trace receiver: decodes each export and keeps it with its headers."""

    received: list[tuple[dict[str, str], ExportTraceServiceRequest]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        status = 404
        if self.path == "/v1/traces":
            export = ExportTraceServiceRequest()
            export.ParseFromString(body)
            self.server.received.append(  # type: ignore[attr-defined]
                ({k.lower(): v for k, v in self.headers.items()}, export)
            )
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _attributes(items: Any) -> dict[str, Any]:
    return {a.key: a.value.WhichOneof("value") and getattr(a.value, a.value.WhichOneof("value"))
            for a in items}  # fmt: skip


def _spans(server: ThreadingHTTPServer) -> list[tuple[dict[str, str], dict[str, Any], Any]]:
    """(export headers, resource attributes, span) for every span received so far."""
    found = []
    for headers, export in list(server.received):  # type: ignore[attr-defined]
        for resource_spans in export.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope in resource_spans.scope_spans:
                found += [(headers, resource, span) for span in scope.spans]
    return found


def test_with_otel_enabled_request_spans_reach_an_otlp_collector(
    collector: ThreadingHTTPServer,
    mongo_server: MongoServer,
    mongo_db_name: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        "MONGODB_URI": mongo_server.url,
        "MONGODB_DB": mongo_db_name,
        "REDIS_URL": redis_url,
        "JWT_SECRET": "otel-test-jwt-secret-0123456789abcdef",
        "VOXCORE_WSS_BASE_URL": "ws://127.0.0.1:9/ws",
        "VOXCORE_SECRET": "otel-test-fleet-secret-0123456789",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "OTEL_ENABLED": "true",
        "OTEL_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
        "OTEL_API_KEY": "collector-key-4242",
        "OTEL_SERVICE_NAME": "ori-backend-under-test",
        "OTEL_HEADERS": "x-tenant=ori-tests",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # the SDK's batch interval: export within 0.1 s
    }
    backend = ManagedProcess(
        "ori-backend",
        [sys.executable, "-m", "ori_backend", "--host", "127.0.0.1", "--port", str(port)],
        log_path=tmp_path / "backend.log",
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    backend.start(http_probe(f"{url}/health"), timeout=60)
    try:
        assert httpx.get(f"{url}/api/v1/bots", timeout=10).status_code == 401
        deadline, wanted = time.monotonic() + 20, None
        while wanted is None and time.monotonic() < deadline:
            wanted = next(
                (found for found in _spans(collector)
                 if _attributes(found[2].attributes).get("http.route") == "/api/v1/bots"
                 and found[2].kind == found[2].SPAN_KIND_SERVER),
                None,
            )  # fmt: skip
            time.sleep(0.1)
    finally:
        backend.stop()
    assert wanted is not None, f"no server span for GET /api/v1/bots in {len(_spans(collector))}"
    headers, resource, span = wanted
    assert headers["x-api-key"] == "collector-key-4242"
    assert headers["x-tenant"] == "ori-tests"
    assert headers["content-type"] == "application/x-protobuf"
    assert resource["service.name"] == "ori-backend-under-test"
    attributes = _attributes(span.attributes)
    assert attributes.get("http.request.method", attributes.get("http.method")) == "GET"
    status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    assert status == 401
    assert len(span.trace_id) == 16 and any(span.trace_id)
    routes = {_attributes(s.attributes).get("http.route") for _, _, s in _spans(collector)}
    assert not routes & {"/health", "/metrics"}  # probes and scrapes are not traced

"""A local OTLP/HTTP trace collector: receives ``POST /v1/traces`` (protobuf) and keeps spans.

It checks the ``x-api-key`` header the services send (``OTEL_API_KEY``) and decodes each
export with the OpenTelemetry protocol's own message types.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from ori_e2e.servers import HOST


@dataclass
class ReceivedSpan:
    """One span as exported."""

    name: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    attributes: dict[str, Any] = field(default_factory=dict)


class OtlpStandIn:
    """The collector, on a free loopback port until :meth:`close`."""

    def __init__(self, api_key: str) -> None:
        self.spans: list[ReceivedSpan] = []
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("x-api-key") != api_key or self.path != "/v1/traces":
                    outer.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.receive(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:  # noqa: ARG002 - quiet
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.endpoint = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def receive(self, body: bytes) -> None:
        """Decode one export and keep its spans."""
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attrs = {a.key: _value(a.value) for a in span.attributes}
                    self.spans.append(
                        ReceivedSpan(
                            span.name, span.trace_id, span.span_id, span.parent_span_id, attrs
                        )
                    )

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None

"""Prometheus request metrics and OpenTelemetry tracing (on when ``OTEL_ENABLED=true``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ori_backend.settings import BackendSettings

__all__ = ["install_metrics", "install_tracing"]

REQUESTS = Counter(
    "ori_backend_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "ori_backend_request_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)


def install_metrics(app: FastAPI, operation_id: Callable[[APIRoute], str]) -> None:
    """Count and time every request by route template (never by raw path: no id explosion).

    The template is the full path of the OpenAPI (``/api/v1/bots/{bot_id}``): FastAPI hands
    the middleware the matched route as declared in its router (``/bots/{bot_id}``), so the
    full path is looked up by operation id (``operation_id``, the app's
    ``generate_unique_id_function``) in the app's own OpenAPI, built once.
    """
    templates: dict[str, str] = {}

    def template_of(route: object) -> str:
        if isinstance(route, APIRoute):
            if not templates:
                templates.update(_operation_paths(app))
            return templates.get(route.operation_id or operation_id(route), route.path)
        return str(getattr(route, "path", "unmatched"))

    app.add_middleware(_Measure, template_of=template_of)


class _Measure:
    """Pure ASGI middleware timing each HTTP request.

    Unlike ``@app.middleware("http")`` it starts no task per request; the route is read from
    the scope once the app has answered.
    """

    def __init__(self, app: ASGIApp, template_of: Callable[[object], str]) -> None:
        self.app = app
        self.template_of = template_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            template = self.template_of(scope.get("route"))
            LATENCY.labels(scope["method"], template).observe(time.perf_counter() - started)
            REQUESTS.labels(scope["method"], template, str(status)).inc()


def _operation_paths(app: FastAPI) -> dict[str, str]:
    """Operation id -> full path template, from the app's OpenAPI."""
    return {
        operation["operationId"]: path
        for path, operations in app.openapi().get("paths", {}).items()
        for operation in operations.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def install_tracing(app: FastAPI, settings: BackendSettings) -> None:
    """Export spans of every request over OTLP when tracing is enabled."""
    if not settings.otel_enabled or settings.otel_endpoint is None:
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint, headers = str(settings.otel_endpoint), settings.otlp_headers()
    if settings.otel_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        exporter: object = Grpc(endpoint=endpoint, headers=headers)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", headers=headers)
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="health,metrics"
    )

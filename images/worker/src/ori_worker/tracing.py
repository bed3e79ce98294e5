"""OpenTelemetry tracing, on when ``OTEL_ENABLED=true``.

Pipecat emits a span per conversation, per turn and per service call when its worker runs
with ``enable_tracing``; this module installs the OTLP exporter those spans (and the
worker's own ``call`` span) go to.
"""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SpanExporter

from ori_worker.settings import WorkerSettings


def exporter_for(settings: WorkerSettings) -> SpanExporter:
    """The OTLP span exporter for the configured protocol, endpoint and headers."""
    endpoint = str(settings.otel_endpoint) if settings.otel_endpoint else None
    headers = settings.otlp_headers()
    if settings.otel_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter as HttpExporter,
    )

    url = (
        endpoint.rstrip("/") + "/v1/traces"
        if endpoint and not endpoint.endswith("/v1/traces")
        else endpoint
    )
    return HttpExporter(endpoint=url, headers=headers)


def setup_tracing(settings: WorkerSettings) -> bool:
    """Install the global tracer provider with the OTLP exporter; True if tracing is on."""
    from pipecat.utils.tracing.setup import setup_tracing as pipecat_setup  # noqa: PLC0415

    return bool(pipecat_setup(settings.otel_service_name, exporter=exporter_for(settings)))

"""`ori-operator`: run the kopf operator beside its Prometheus metrics endpoint."""

from __future__ import annotations

import logging

import kopf
from prometheus_client import start_http_server

from ori_operator import handlers
from ori_operator.settings import OperatorSettings, get_settings

__all__ = ["main", "run"]


def run(settings: OperatorSettings) -> None:
    """Run the operator until it is stopped (SIGINT/SIGTERM)."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if settings.log_level != "DEBUG":  # kopf logs every handled watch event at INFO
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.bind_host)
    namespaces = settings.namespaces()
    liveness = (
        f"http://{settings.bind_host}:{settings.health_port}/healthz"
        if settings.health_port
        else None
    )
    peering = settings.operator_peering or None
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=peering is None,
        peering_name=peering,
        priority=settings.operator_priority,
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings),
    )


def main() -> None:
    """Console entry point."""
    assert handlers  # importing the package registered the handlers
    run(get_settings())

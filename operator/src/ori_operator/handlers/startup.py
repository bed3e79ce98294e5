"""Start-up and clean-up: kopf's persistence and watch settings, and the shared clients.

Everything kopf stores on our objects carries Ori's own names: the finalizer
`ori.dev/operator`, progress and diff-base annotations under `ori.dev/`. Watches time out on
both ends, so a silently stalled watch (a known failure of long-lived watch connections) is
replaced within minutes.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from redis.asyncio import Redis

from ori_operator.allocator import Allocator
from ori_operator.backend import Backend
from ori_operator.context import MEMO_KEY, OperatorContext, context_of
from ori_operator.kube import Kube
from ori_operator.settings import OperatorSettings

__all__ = ["FINALIZER", "configure", "on_cleanup", "on_startup"]

FINALIZER = "ori.dev/operator"
ANNOTATION_PREFIX = "ori.dev"
WATCH_SERVER_TIMEOUT_S = 300
WATCH_CLIENT_TIMEOUT_S = 330


def configure(settings: kopf.OperatorSettings) -> None:
    """Apply Ori's kopf settings (also used by tests that run kopf in-process)."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT_S
    settings.watching.client_timeout = WATCH_CLIENT_TIMEOUT_S
    settings.watching.connect_timeout = 30
    settings.posting.level = logging.WARNING  # events for problems only
    settings.scanning.disabled = True  # the CRDs come from the chart; no cluster-wide CRD RBAC


@kopf.on.startup(id="operator_startup")
async def on_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Configure kopf and open the Kubernetes and Redis clients."""
    configure(settings)
    operator_settings = memo.get("settings")
    if not isinstance(operator_settings, OperatorSettings):
        raise kopf.PermanentError("ori-operator: settings were not passed in the memo")
    settings.peering.lifetime = operator_settings.operator_peering_lifetime_s  # before peering
    kube = await Kube.connect()
    redis = Redis.from_url(operator_settings.redis_url, max_connections=64)
    backend = None
    if operator_settings.backend_url:
        if operator_settings.backend_token is None:
            raise kopf.PermanentError("BACKEND_URL is set but BACKEND_TOKEN is not")
        token = operator_settings.backend_token.get_secret_value()
        backend = Backend(operator_settings.backend_url, token)
    memo[MEMO_KEY] = OperatorContext(operator_settings, kube, Allocator(redis), backend)


@kopf.on.cleanup(id="operator_cleanup")
async def on_cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Close the clients."""
    ctx = context_of(memo)
    await ctx.kube.close()
    await ctx.allocator.redis.aclose()
    if ctx.backend is not None:
        await ctx.backend.close()

"""The worker's FastAPI application: health, metrics, the call entry points and draining."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import urllib3
from fastapi import FastAPI
from minio import Minio
from prometheus_client import make_asgi_app

from ori_contracts.allocation import verify_call_token
from ori_contracts.wire import results_url
from ori_worker import metrics
from ori_worker.call import CallServices
from ori_worker.config_client import ConfigSource, file_config_source, http_config_source
from ori_worker.livekit_routes import router as livekit_router
from ori_worker.outbox import Outbox
from ori_worker.providers.factory import ProviderKeys
from ori_worker.recording import StorageTarget
from ori_worker.registration import Registration
from ori_worker.routes import router
from ori_worker.settings import WorkerSettings
from ori_worker.slots import CallSlots

SERVICE = "ori-worker"
log = logging.getLogger(__name__)


@dataclass
class WorkerRuntime:
    """Everything the routes share: slots, the outbox, registration and call services."""

    settings: WorkerSettings
    slots: CallSlots
    outbox: Outbox
    services: CallServices
    worker_id: str
    registration: Registration | None = None
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    _drain_task: asyncio.Task[None] | None = None

    def verify_call_token(self, token: str, call_id: str) -> None:
        """Check that ``token`` lets ``call_id`` onto this worker now.

        Raises:
            InvalidCallToken: It does not (another call, another worker, expired, forged).
        """
        verify_call_token(
            self.services.secret, token, call_id=call_id, worker_id=self.worker_id, now=time.time()
        )

    def begin_drain(self) -> asyncio.Task[None]:
        """Take no new call, finish the live one, flush the outbox; idempotent."""
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain(), name="worker-drain")
        return self._drain_task

    async def _drain(self) -> None:
        self.slots.start_draining()
        log.info("draining: %d live call(s)", len(self.slots.busy))
        if self.registration is not None:
            with contextlib.suppress(Exception):
                await self.registration.retire()
        await self.slots.wait_idle()
        delivered = await self.outbox.flush(self.settings.outbox_flush_timeout_s)
        log.info("drained; outbox %s", "empty" if delivered else "still has results (kept on disk)")
        self.drained.set()


def _storage(settings: WorkerSettings) -> StorageTarget:
    # Few, quick retries: a storage outage should cost the recording, not delay the result.
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3.0, read=30.0),
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
    )
    client = Minio(
        settings.minio_endpoint,
        access_key=settings.minio_access_key.get_secret_value(),
        secret_key=settings.minio_secret_key.get_secret_value(),
        secure=settings.minio_secure,
        http_client=http,
    )
    return StorageTarget(client, settings.minio_bucket)


def _keys(settings: WorkerSettings) -> ProviderKeys:
    return ProviderKeys(
        deepgram=settings.deepgram_api_key,
        soniox=settings.soniox_api_key,
        openai=settings.openai_api_key,
        google=settings.google_api_key,
        elevenlabs=settings.elevenlabs_api_key,
        sarvam=settings.sarvam_api_key,
        cartesia=settings.cartesia_api_key,
    )


def _prewarm(*, livekit: bool) -> None:
    """Load what every call needs before the first call arrives.

    Imports the pipeline's modules and builds a VAD and a turn analyzer once (their ONNX
    runtimes initialise on first use), loads eSpeak and a PocketSphinx decoder, and the
    LiveKit SDK when ``livekit`` (LiveKit is configured), so the first call picks up as fast
    as the later ones; then freezes what is loaded (:func:`ori_worker.memory.settle`).
    """
    from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: PLC0415
    from pipecat.processors.aggregators.llm_response_universal import (  # noqa: PLC0415
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy  # noqa: PLC0415
    from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: PLC0415

    from ori_contracts import ScriptedLlmConfig  # noqa: PLC0415
    from ori_worker import analyzers, pipeline  # noqa: F401, PLC0415
    from ori_worker.memory import settle  # noqa: PLC0415
    from ori_worker.providers import espeak_tts  # noqa: F401, PLC0415
    from ori_worker.providers.espeak_engine import espeak_engine  # noqa: PLC0415
    from ori_worker.providers.pocketsphinx_stt import prewarm  # noqa: PLC0415
    from ori_worker.providers.scripted_llm import Script, ScriptedLLMService  # noqa: PLC0415

    analyzers.prewarm()
    # An LLM service loads its message adapter (the OpenAI SDK) when first built.
    ScriptedLLMService(script=Script(ScriptedLlmConfig()))
    # With explicit strategies: pipecat's default ones load a Smart Turn model of their own.
    strategies = UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy()])
    LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(user_turn_strategies=strategies)
    )
    espeak_engine().synthesize("ready")
    prewarm()
    if livekit:
        from ori_worker import livekit_runner  # noqa: F401, PLC0415
    settle()


def create_app(
    settings: WorkerSettings,
    *,
    config_source: ConfigSource | None = None,
    listen_address: str | None = None,
) -> FastAPI:
    """Build the worker application.

    Args:
        settings: The worker's settings.
        config_source: Where runtime configs come from; the backend by default (tests and
            demos pass a fixed one).
        listen_address: ``host:port`` the server listens on, registered when
            ``WORKER_ADDRESS`` is not set.
    """
    config_url = str(settings.voxbridge_config_url)
    secret = settings.voxcore_secret.get_secret_value()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slots = CallSlots(capacity=settings.max_concurrent_calls)
        worker_id = settings.resolved_worker_id
        async with httpx.AsyncClient() as http:
            outbox = Outbox(
                settings.outbox_dir,
                str(settings.voxbridge_results_url or results_url(config_url)),
                secret,
                http,
                on_delivery=lambda outcome: metrics.RESULT_DELIVERIES.labels(outcome).inc(),
            )
            settings.recordings_dir.mkdir(parents=True, exist_ok=True)
            source = config_source
            if source is None and settings.static_runtime_config is not None:
                source = file_config_source(settings.static_runtime_config)
            services = CallServices(
                config_source=source
                or http_config_source(http, config_url, secret, settings.config_timeout_s),
                config_url=config_url,
                secret=secret,
                http=http,
                keys=_keys(settings),
                storage=_storage(settings),
                work_dir=settings.recordings_dir,
                worker_id=worker_id,
                config_timeout_s=settings.config_timeout_s,
                secrets_dir=settings.tool_secrets_dir,
                enable_tracing=settings.otel_enabled,
            )
            runtime = WorkerRuntime(settings, slots, outbox, services, worker_id)
            app.state.runtime = runtime
            await asyncio.to_thread(_prewarm, livekit=settings.livekit_url is not None)
            outbox.start()
            redis_client = None
            if settings.redis_url:
                from redis.asyncio import Redis  # noqa: PLC0415

                redis_client = Redis.from_url(settings.redis_url)
                address = settings.worker_address or listen_address or "127.0.0.1:8000"
                runtime.registration = Registration(
                    redis_client,
                    worker_id,
                    settings.fleetpool,
                    address,
                    lambda: next(iter(slots.calls), None),
                )
                runtime.registration.start()
            try:
                yield
            finally:
                await runtime.begin_drain()
                if runtime.registration is not None:
                    await runtime.registration.stop()
                if redis_client is not None:
                    await redis_client.aclose()
                await outbox.stop()

    app = FastAPI(title="Ori worker", version="0.1.0", lifespan=lifespan)
    app.mount("/metrics", make_asgi_app())
    app.include_router(router)
    app.include_router(livekit_router)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, object]:
        """Report the call slots, the registration state and the outbox backlog."""
        runtime: WorkerRuntime = app.state.runtime
        slots = runtime.slots
        pending = len(runtime.outbox.pending())
        metrics.RESULTS_PENDING.set(pending)
        registration = runtime.registration
        return {
            "status": "draining" if slots.draining else "ok",
            "service": SERVICE,
            "worker_id": runtime.worker_id,
            "state": slots.state,
            "slots": slots.capacity,
            "busy": len(slots.busy),
            "free": slots.free,
            "draining": slots.draining,
            "registered_state": str(registration.state)
            if registration and registration.state
            else None,
            "results_pending": pending,
        }

    return app

"""``run_call``: one live call from its first audio to its one ``CallResult``.

Fetch the runtime config (bounded), build the pipeline, greet, run the conversation under
the call's limits, then finalise: transcript, recording upload, analysis, QC, disposition,
usage and latency. Whatever happens, including a crash, the call ends in exactly one result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from opentelemetry import trace
from pipecat.frames.frames import EndFrame, ErrorFrame, LLMRunFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from ori_contracts import CallResult, FailureReason, RuntimeConfig
from ori_contracts.wire import ConfigRequest
from ori_worker import call_control, metrics
from ori_worker.call_control import CallControl
from ori_worker.call_record import Kind
from ori_worker.config_client import ConfigError, ConfigSource
from ori_worker.finalise import Finaliser
from ori_worker.logs import call_id_var
from ori_worker.pipeline import PIPELINE_SAMPLE_RATE_HZ, CallPipeline, PipelineDeps, build_pipeline
from ori_worker.providers.espeak_tts import EspeakTTSService
from ori_worker.providers.factory import ProviderKeys, ProviderUnavailable
from ori_worker.providers.pocketsphinx_stt import GrammarError
from ori_worker.recording import StorageTarget
from ori_worker.result import CallFacts, call_result, failure_before_config
from ori_worker.tools import ToolContext, ToolEvent

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("ori_worker")

APOLOGY = "Sorry, we can't take your call right now. Please try again later. Goodbye."
CHECK_IN = "Are you still there?"
END_GRACE_S = 15.0


@dataclass
class CallServices:
    """Process-wide things a call uses (created once, in the app's lifespan)."""

    config_source: ConfigSource
    config_url: str
    secret: str
    http: httpx.AsyncClient
    keys: ProviderKeys
    storage: StorageTarget | None
    work_dir: Path
    worker_id: str | None
    config_timeout_s: float = 5.0
    secrets_dir: Path | None = None
    enable_tracing: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _tool_event(event: ToolEvent) -> None:
    metrics.TOOL_CALLS.labels(event.type, str(event.ok).lower()).inc()
    metrics.TOOL_DURATION.labels(event.type).observe(event.duration_s)


async def run_call(
    facts: CallFacts,
    transport: BaseTransport,
    services: CallServices,
    control: CallControl | None = None,
) -> CallResult:
    """Run one call on ``transport`` and return its result (never raises, except cancellation).

    Args:
        facts: What the carrier said about the call.
        transport: The call's media transport, not yet used by any pipeline.
        services: Shared clients and settings.
        control: The call's end decision, when the transport's carrier side needs it too.
    """
    token = call_id_var.set(facts.call_id)
    metrics.ACTIVE_CALLS.inc()
    state = _CallState(answered=_now(), control=control or CallControl())
    span = _tracer.start_span(
        "call",
        attributes={
            "call_id": facts.call_id,
            "telephony": str(facts.leg.provider),
            "bot_id": facts.bot_id or "",
        },
    )
    try:
        with trace.use_span(span, end_on_exit=False):  # the pipeline's spans nest under it
            result = await _run(facts, transport, services, state)
        span.set_attribute("outcome", str(result.outcome))
        return result
    except Exception as exc:  # the top of a call: anything unexpected still yields a result
        log.exception("call crashed", extra={"call_id": facts.call_id})
        detail = f"{type(exc).__name__}: {exc}"
        if state.cfg is None:
            # Without a config the bot is unknown, which the contract allows only for
            # config failures: report it as one, with what really happened in the detail.
            return failure_before_config(
                facts,
                FailureReason.CONFIG_UNAVAILABLE,
                f"internal error: {detail}",
                state.answered,
                _now(),
            )
        end = call_control.failed(FailureReason.INTERNAL_ERROR, detail)
        return call_result(facts, state.cfg, end, state.answered, _now(), None)
    finally:
        span.end()
        metrics.ACTIVE_CALLS.dec()
        call_id_var.reset(token)


@dataclass
class _CallState:
    answered: datetime
    control: CallControl
    cfg: RuntimeConfig | None = None


def config_request(facts: CallFacts) -> ConfigRequest:
    """The runtime-config request for the call ``facts`` describe."""
    return ConfigRequest(
        call_id=facts.call_id,
        bot_id=facts.bot_id,
        direction=facts.direction,
        telephony=facts.leg.provider,
        from_number=facts.leg.from_number,
        to_number=facts.leg.to_number,
        worker_id=facts.worker_id,
        carrier_call_id=facts.leg.carrier_call_id,
        custom_parameters=dict(facts.leg.parameters),
    )


async def fetch_config(facts: CallFacts, services: CallServices) -> RuntimeConfig:
    """The call's runtime config, within ``services.config_timeout_s``.

    Raises:
        ConfigError: None in time, or an invalid one (``reason`` says which).
    """
    started = time.monotonic()
    try:
        cfg = await asyncio.wait_for(
            services.config_source(config_request(facts)), services.config_timeout_s
        )
    except TimeoutError as exc:
        detail = f"no runtime config within {services.config_timeout_s:g} s"
        raise ConfigError(FailureReason.CONFIG_UNAVAILABLE, detail) from exc
    metrics.CONFIG_FETCH.observe(time.monotonic() - started)
    return cfg


async def _run(
    facts: CallFacts, transport: BaseTransport, services: CallServices, state: _CallState
) -> CallResult:
    answered = state.answered
    try:
        cfg = await fetch_config(facts, services)
    except ConfigError as exc:
        detail = str(exc) or "no runtime config"
        log.warning("no runtime config: %s", detail, extra={"call_id": facts.call_id})
        await apologise(transport)
        return failure_before_config(facts, exc.reason, detail, answered, _now())
    state.cfg = cfg
    return await _converse(facts, cfg, transport, services, state)


async def _converse(
    facts: CallFacts,
    cfg: RuntimeConfig,
    transport: BaseTransport,
    services: CallServices,
    state: _CallState,
) -> CallResult:
    control = state.control
    recording_path = services.work_dir / f"{facts.call_id}.wav" if cfg.recording.enabled else None
    tools = ToolContext(
        cfg=cfg,
        control=control,
        http=services.http,
        config_url=services.config_url,
        secret=services.secret,
        secrets_dir=services.secrets_dir,
        on_event=_tool_event,
    )
    deps = PipelineDeps(
        services.keys, tools, recording_path, services.enable_tracing, facts.leg.sample_rate_hz
    )
    try:
        built = build_pipeline(cfg, transport, deps)
    except (ProviderUnavailable, GrammarError) as exc:
        reason = (
            FailureReason.CONFIG_INVALID
            if isinstance(exc, GrammarError)
            else FailureReason.PROVIDER_ERROR
        )
        log.error("cannot run this bot here: %s", exc, extra={"call_id": facts.call_id})
        await apologise(transport)
        end = call_control.failed(reason, str(exc))
        return call_result(facts, cfg, end, state.answered, _now(), None)
    t0 = built.start_clock()
    answered = state.answered = _now()
    await _conduct(cfg, built, transport, control)
    ended, t_end = _now(), time.monotonic()
    end = control.end or call_control.failed(
        FailureReason.INTERNAL_ERROR, "the pipeline stopped without a reason to end the call"
    )
    finaliser = Finaliser(cfg, built, services, facts.call_id)
    findings = await finaliser.findings(control, end, t0, t_end)
    result = call_result(facts, cfg, end, answered, ended, findings)
    metrics.observe_result(result)
    return result


async def _conduct(
    cfg: RuntimeConfig, built: CallPipeline, transport: BaseTransport, control: CallControl
) -> None:
    worker = built.worker

    async def _connected(_transport: object, _ws: object) -> None:
        greeting = cfg.persona.greeting
        await worker.queue_frame(TTSSpeakFrame(greeting) if greeting else LLMRunFrame())

    async def _disconnected(_transport: object, _ws: object) -> None:
        control.end_with(call_control.CALLER_HUNG_UP)
        await worker.cancel(reason="caller hung up")

    async def _error(_worker: object, frame: ErrorFrame) -> None:
        processor = frame.processor
        fatal = frame.fatal or (processor is not None and not processor.is_usable)
        metrics.PROVIDER_ERRORS.labels(
            type(processor).__name__ if processor else "pipeline", str(fatal).lower()
        ).inc()
        if fatal and control.end_with(
            call_control.failed(FailureReason.PROVIDER_ERROR, frame.error)
        ):
            await worker.cancel(reason=frame.error)

    transport.add_event_handler("on_client_connected", _connected)
    transport.add_event_handler("on_client_disconnected", _disconnected)
    worker.add_event_handler("on_pipeline_error", _error)
    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    watchdog = asyncio.create_task(_watch_limits(cfg, built, control), name="call-limits")
    run = asyncio.create_task(runner.run(), name="call-pipeline")
    try:
        done, _ = await asyncio.wait({run, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        if run not in done:
            # A limit ended the call: let the goodbye play, but not for ever.
            try:
                await asyncio.wait_for(asyncio.shield(run), END_GRACE_S)
            except TimeoutError:
                await worker.cancel(reason="did not end in time")
                await run
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        if not run.done():
            await runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run


async def _watch_limits(cfg: RuntimeConfig, built: CallPipeline, control: CallControl) -> None:
    """End the call at its maximum duration or after the caller's silence; check in before."""
    limits, rec, worker = cfg.limits, built.recorder, built.worker
    started = time.monotonic()
    prompts, prompted_at = 0, started
    while not control.ending.is_set():
        await asyncio.sleep(0.25)
        now = time.monotonic()
        if now - started >= limits.max_duration_s:
            if control.end_with(call_control.MAX_DURATION):
                await worker.queue_frame(EndFrame(reason="max_duration"))
            return
        user_at = max([started, *(e.at for e in (rec.last(k) for k in _USER_KINDS) if e)])
        if rec.user_speaking:
            user_at = now
        if now - user_at >= limits.idle_timeout_s:
            if control.end_with(call_control.IDLE_TIMEOUT):
                await worker.queue_frame(EndFrame(reason="idle_timeout"))
            return
        if user_at > prompted_at:
            prompts = 0
        bot_stop = rec.last(Kind.BOT_STOP)
        quiet_since = max(user_at, prompted_at, bot_stop.at if bot_stop else started)
        quiet = not rec.user_speaking and not rec.bot_speaking
        if (
            quiet
            and now - quiet_since >= limits.silence_prompt_after_s
            and prompts < limits.max_silence_prompts
        ):
            prompts, prompted_at = prompts + 1, now
            await worker.queue_frame(TTSSpeakFrame(CHECK_IN))


_USER_KINDS = (Kind.USER_SPEECH_START, Kind.USER_SPEECH_STOP)


async def apologise(transport: BaseTransport, text: str = APOLOGY, timeout_s: float = 15.0) -> None:
    """Tell the caller the call cannot go on, then hang up (used before any pipeline ran)."""
    tts = EspeakTTSService(voice="en-us")
    worker = PipelineWorker(
        Pipeline([transport.input(), tts, transport.output()]),
        params=PipelineParams(
            audio_in_sample_rate=PIPELINE_SAMPLE_RATE_HZ,
            audio_out_sample_rate=PIPELINE_SAMPLE_RATE_HZ,
        ),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )

    async def _gone(_transport: object, _ws: object) -> None:
        await worker.cancel(reason="caller hung up")

    transport.add_event_handler("on_client_disconnected", _gone)

    await worker.queue_frames([TTSSpeakFrame(text), EndFrame(reason="apology")])
    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    try:
        await asyncio.wait_for(runner.run(), timeout_s)
    except TimeoutError:
        await runner.cancel()

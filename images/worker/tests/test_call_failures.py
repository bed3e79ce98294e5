"""Barge-in, a busy worker, missing config and malformed media, over real calls."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from ori_contracts import CallLimits, CallOutcome, EndedBy, FailureReason, TranscriptRole
from ori_e2e.servers import HOST
from ori_e2e.voice import SECRET
from ori_worker.sim.caller import Line, Script, SimulatedCall

from .conftest import BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration


async def test_talking_over_the_bot_stops_it_and_clears_the_carrier_buffer(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    worker = worker_factory(config=offline_bot(booking.url))
    lines = (Line("What time do you open", barge_in_after_ms=1500), Line("Goodbye"))
    report = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", Script(lines)).run()
    barge = report.turns[0]
    assert barge.barge_in and barge.bargein_ms is not None and barge.bargein_ms < 800
    assert barge.clear_ms is not None and barge.clear_ms < 800
    assert barge.latency_ms is not None  # and the bot then answered what was said over it
    result = await asyncio.to_thread(worker.wait_result, 30)
    greeting = result.transcript[0]
    assert greeting.role is TranscriptRole.ASSISTANT and greeting.interrupted
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    assert said == ["what time do you open", "goodbye"]


async def test_a_busy_worker_refuses_a_second_call_with_a_clear_answer(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    worker = worker_factory(config=offline_bot(booking.url))
    first = asyncio.create_task(
        SimulatedCall(worker.ws_url, "appointment-demo", "twilio", Script((Line("Goodbye"),))).run()
    )
    await asyncio.sleep(2.0)
    health = await asyncio.to_thread(worker.health)
    assert (health["state"], health["busy"], health["free"]) == ("busy", 1, 0)
    second = await SimulatedCall(
        worker.ws_url, "appointment-demo", "twilio", Script((Line("Goodbye"),))
    ).run()
    assert second.refused is not None and second.refused.startswith("HTTP 409")
    assert "busy" in second.refused
    async with httpx.AsyncClient() as http:
        body = {"call_id": "call_x", "room": "room-1"}
        attach = f"{worker.url}/attach"
        wrong = await http.post(attach, json=body, headers={"Authorization": "Bearer nope"})
        busy = await http.post(attach, json=body, headers={"Authorization": f"Bearer {SECRET}"})
        assert (wrong.status_code, busy.status_code) == (401, 409)
        done = await first
        assert done.hung_up_by == "bot"
        await asyncio.to_thread(worker.wait_result, 30)  # the slot is held until then
        free = await http.post(attach, json=body, headers={"Authorization": f"Bearer {SECRET}"})
        assert free.status_code == 503  # this worker has no LiveKit server configured
    assert len(worker.pending_results()) == 1


async def test_no_config_ends_the_call_politely_with_a_failure_result(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    worker = worker_factory(extra_env={"STATIC_RUNTIME_CONFIG": str(tmp_path / "missing.json")})
    report = await SimulatedCall(
        worker.ws_url, "appointment-demo", "twilio", Script((Line("Goodbye"),))
    ).run()
    assert report.hung_up_by == "bot" and report.bot_audio_s > 2.0  # the apology was heard
    result = await asyncio.to_thread(worker.wait_result, 10)
    assert (result.outcome, result.failure_reason) == (
        CallOutcome.FAILED,
        FailureReason.CONFIG_UNAVAILABLE,
    )
    assert result.bot_id is None and "missing.json" in (result.failure_detail or "")


async def test_a_backend_that_never_answers_cannot_hang_the_call(
    worker_factory: WorkerFactory,
) -> None:
    silent = socket.create_server((HOST, 0))  # accepts connections, never answers
    try:
        port = silent.getsockname()[1]
        worker = worker_factory(
            config_url=f"http://{HOST}:{port}/api/v1/config",
            extra_env={"CONFIG_TIMEOUT_S": "1"},
        )
        started = time.monotonic()
        report = await SimulatedCall(
            worker.ws_url, "front-desk", "websocket", Script((Line("Goodbye"),))
        ).run()
        assert report.hung_up_by == "bot" and time.monotonic() - started < 15
        result = await asyncio.to_thread(worker.wait_result, 10)
        assert result.failure_reason is FailureReason.CONFIG_UNAVAILABLE
        assert "within 1 s" in (result.failure_detail or "")
    finally:
        silent.close()


async def test_malformed_media_is_ignored_and_the_call_goes_on(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    worker = worker_factory(config=offline_bot(booking.url))
    junk: tuple[str | bytes, ...] = (
        "{truncated",
        json.dumps({"event": "media", "media": {"payload": "%%%not-base64%%%"}}),
        json.dumps({"event": "dtmf", "dtmf": {"digit": "not-a-key"}}),
        b"\x00\x01\x02",
    )
    lines = Script((Line("What time do you open"), Line("Goodbye")))
    report = await SimulatedCall(
        worker.ws_url, "appointment-demo", "twilio", lines, junk=junk
    ).run()
    assert report.hung_up_by == "bot"
    assert all(t.latency_ms is not None for t in report.turns)
    result = await asyncio.to_thread(worker.wait_result, 30)
    assert result.ended_by is EndedBy.BOT
    metrics = await asyncio.to_thread(worker.metrics)
    line = next(x for x in metrics.splitlines() if x.startswith("ori_worker_malformed_media_total"))
    assert float(line.split()[-1]) >= 3  # bad base64 and a bad digit, three times each


async def test_a_silent_caller_is_checked_on_then_the_call_times_out(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    limits = CallLimits(silence_prompt_after_s=2.0, max_silence_prompts=1, idle_timeout_s=9.0)
    worker = worker_factory(config=offline_bot(booking.url, limits=limits))
    silent = Script((), hang_up_after_s=60)
    report = await SimulatedCall(worker.ws_url, "appointment-demo", "twilio", silent).run()
    assert report.hung_up_by == "bot" and 8 < report.duration_s < 20
    result = await asyncio.to_thread(worker.wait_result, 30)
    assert (result.outcome, result.failure_reason, result.ended_by) == (
        CallOutcome.TIMEOUT,
        FailureReason.IDLE_TIMEOUT,
        EndedBy.SYSTEM,
    )
    bot = [t.text for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert bot[-1] == "Are you still there?" and len(bot) == 2


async def test_a_call_cannot_outlast_its_maximum_duration(
    worker_factory: WorkerFactory, booking: BookingEndpoint
) -> None:
    limits = CallLimits(max_duration_s=6, silence_prompt_after_s=30.0, idle_timeout_s=60.0)
    worker = worker_factory(config=offline_bot(booking.url, limits=limits))
    report = await SimulatedCall(
        worker.ws_url, "appointment-demo", "twilio", Script((), hang_up_after_s=60)
    ).run()
    assert report.hung_up_by == "bot" and report.duration_s < 15
    result = await asyncio.to_thread(worker.wait_result, 30)
    assert (result.outcome, result.failure_reason) == (
        CallOutcome.TIMEOUT,
        FailureReason.MAX_DURATION,
    )

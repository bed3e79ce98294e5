"""Calls over real WebSockets to a real worker process, from the simulated caller."""

from __future__ import annotations

import asyncio
import io
import wave

import numpy as np
import pytest
from minio import Minio

from ori_contracts import CallOutcome, DispositionSource, EndedBy, TranscriptRole
from ori_e2e.servers import S3Server
from ori_worker.sim.caller import Line, Script, SimulatedCall

from .conftest import CALLER_LINES, BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration


def script(*lines: str | Line) -> Script:
    return Script(lines=tuple(x if isinstance(x, Line) else Line(x) for x in lines))


def download(s3: S3Server, bucket: str, key: str) -> tuple[np.ndarray, int]:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    data = client.get_object(bucket, key).read()
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (2, 2)
        rate = wav.getframerate()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    return frames, rate


async def test_a_twilio_call_follows_the_bot_s_rules_and_is_recorded(
    worker_factory: WorkerFactory, booking: BookingEndpoint, s3_server: S3Server, s3_bucket: str
) -> None:
    worker = worker_factory(config=offline_bot(booking.url))
    report = await SimulatedCall(
        worker.ws_url, "appointment-demo", "twilio", script(*CALLER_LINES)
    ).run()
    assert report.error is None and report.refused is None
    assert report.hung_up_by == "bot"
    assert report.pickup_ms is not None and report.pickup_ms < 3000
    assert [t.latency_ms is not None for t in report.turns] == [True] * 4

    result = await asyncio.to_thread(worker.wait_result, 30)
    assert (result.outcome, result.ended_by) == (CallOutcome.COMPLETED, EndedBy.BOT)
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    assert said == [line.lower() for line in CALLER_LINES]
    bot = [t.text for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert bot == [
        "Hi, this is Ava from Bright Smile Dental. Would you like to book your next visit?",
        "I can book that for you. Does Tuesday at 10 AM work?",
        "Great, you're booked for Tuesday at 10 AM. Anything else?",
        "Sorry, I didn't catch that. Could you say it again?",
        "Thanks for calling Bright Smile Dental. Goodbye!",
    ]
    tools = {t.tool_name: t for t in result.transcript if t.role is TranscriptRole.TOOL}
    assert tools["book_appointment"].tool_result == {"status": "booked", "confirmation": "BSD-1"}
    assert booking.requests == [{"slot": "2026-03-10T10:00:00-07:00", "reason": "cleaning"}]
    assert "end_call" in tools

    assert result.analysis is not None
    assert result.analysis.extracted["appointment_booked"] is True
    assert result.analysis.extracted["visit_reason"] == "cleaning"
    qc = {f.rule_id: f.passed for f in result.qc_findings}
    assert qc["states-clinic-name"] and qc["no-medical-advice"]
    assert (result.disposition, result.disposition_source) == (
        "appointment_booked",
        DispositionSource.CLASSIFIER,
    )
    assert len(result.latency.turns) == 4 and result.latency.total_p50_ms is not None

    recording = result.recording
    assert recording is not None and recording.bucket == s3_bucket
    frames, rate = download(s3_server, s3_bucket, recording.object_key)
    assert rate == recording.sample_rate_hz == 8000
    talk_ms = result.timings.talk_duration_ms
    assert talk_ms is not None and abs(recording.duration_ms - talk_ms) < 1500
    assert abs(len(frames) * 1000 / rate - recording.duration_ms) <= 1
    caller_voiced = np.abs(frames[:, 0]).astype(float).mean()
    bot_voiced = np.abs(frames[:, 1]).astype(float).mean()
    assert caller_voiced > 50 and bot_voiced > 50
    # The greeting is on the bot's channel only, before the caller says anything.
    first_user = next(t for t in result.transcript if t.role is TranscriptRole.USER)
    greeting = frames[: int(rate * (first_user.started_at_ms - 300) / 1000)]
    assert np.abs(greeting[:, 1]).max() > 1000 and np.abs(greeting[:, 0]).max() < 200
    # and the transcript's clock is the recording's: the caller is heard where it says
    heard_ms = np.flatnonzero(np.abs(frames[:, 0]) > 1000)[0] * 1000 / rate
    assert abs(heard_ms - first_user.started_at_ms) < 150


@pytest.mark.parametrize("protocol", ["exotel", "websocket"])
async def test_the_other_media_protocols_reach_the_same_pipeline(
    worker_factory: WorkerFactory, booking: BookingEndpoint, protocol: str
) -> None:
    worker = worker_factory(config=offline_bot(booking.url))
    call = SimulatedCall(worker.ws_url, "appointment-demo", protocol, script("Goodbye"))
    report = await call.run()
    assert report.hung_up_by == "bot" and report.turns[0].latency_ms is not None
    result = await asyncio.to_thread(worker.wait_result, 30)
    assert result.telephony_provider == protocol
    assert [t.text for t in result.transcript if t.role is TranscriptRole.USER] == ["goodbye"]
    assert result.ended_by is EndedBy.BOT

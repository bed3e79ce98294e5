"""A phone call end to end: backend, worker, Redis, the MongoDB-wire server and S3, all real.

The simulated caller phones a bot over Twilio's media protocol; the worker fetches the bot's
runtime config from the backend, runs the conversation on offline providers, uploads the
recording and delivers one result, which the backend stores as the call's record.
"""

from __future__ import annotations

import asyncio
import io
import signal
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from ori_contracts import (
    CallResult,
    ScriptedLlmConfig,
    ScriptedRule,
    SearchKnowledgeTool,
    TranscriptRole,
)
from ori_e2e.servers import S3Server
from ori_e2e.voice import (
    CALLER_LINES,
    BackendProcess,
    BookingEndpoint,
    WorkerProcess,
    bot_spec,
    offline_bot,
    start_worker,
)
from ori_worker.sim.caller import Line, Script, SimulatedCall

pytestmark = pytest.mark.e2e

RECORD_WITHIN_S = 10.0


@pytest.fixture
def worker(
    tmp_path: Path, backend_process: BackendProcess, s3_server: S3Server, s3_bucket: str
) -> Iterator[WorkerProcess]:
    process = start_worker(
        tmp_path / "worker", s3_server, s3_bucket, config_url=backend_process.config_url
    )
    yield process
    process.stop()


def download_recording(backend_process: BackendProcess, call_id: str) -> bytes:
    """The recording, through the backend's presigned link."""
    link = httpx.get(
        f"{backend_process.url}/api/v1/calls/{call_id}/recording",
        headers=backend_process.headers,
        timeout=10,
    )
    assert link.status_code == 200, link.text
    return httpx.get(link.json()["url"], timeout=10).content


async def test_a_phone_call_ends_in_one_complete_record(
    backend_process: BackendProcess, worker: WorkerProcess, booking: BookingEndpoint, s3_bucket: str
) -> None:
    bot_id = backend_process.create_bot(bot_spec(offline_bot(booking.url)))
    script = Script(tuple(Line(text) for text in CALLER_LINES))
    report = await SimulatedCall(worker.ws_url, bot_id, "twilio", script).run()
    hung_up = time.monotonic()
    assert report.hung_up_by == "bot" and report.pickup_ms is not None
    assert all(t.latency_ms is not None for t in report.turns)

    record = await asyncio.to_thread(backend_process.wait_one_record, hung_up, RECORD_WITHIN_S)
    result = CallResult.model_validate(record["result"])
    assert result.bot_id == bot_id and result.workspace_id == backend_process.workspace_id
    said = [t.text for t in result.transcript if t.role is TranscriptRole.USER]
    assert said == [line.lower() for line in CALLER_LINES]
    tools = [t.tool_name for t in result.transcript if t.role is TranscriptRole.TOOL]
    assert tools == ["book_appointment", "end_call"]
    assert result.analysis is not None and result.analysis.extracted["appointment_booked"] is True
    assert {f.rule_id for f in result.qc_findings} >= {"states-clinic-name", "no-dead-air"}
    assert result.disposition == "appointment_booked"

    audio = await asyncio.to_thread(download_recording, backend_process, result.call_id)
    with wave.open(io.BytesIO(audio)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    talk_ms = result.timings.talk_duration_ms
    assert talk_ms is not None and abs(len(frames) / 8 - talk_ms) < 1500
    assert np.abs(frames[:, 0]).max() > 1000 and np.abs(frames[:, 1]).max() > 1000
    assert result.recording is not None and result.recording.bucket == s3_bucket


async def test_a_result_waits_out_a_backend_outage(
    backend_process: BackendProcess, worker: WorkerProcess, booking: BookingEndpoint
) -> None:
    bot_id = backend_process.create_bot(bot_spec(offline_bot(booking.url)))
    script = Script((Line("What time do you open"), Line("Goodbye")))
    call = asyncio.create_task(SimulatedCall(worker.ws_url, bot_id, "twilio", script).run())
    await asyncio.sleep(4.0)  # the config was fetched; now the backend goes away
    await asyncio.to_thread(backend_process.stop)
    report = await call
    assert report.hung_up_by == "bot"
    await asyncio.sleep(3.0)
    (pending,) = worker.pending_results()  # waiting on disk while the backend is down
    await asyncio.to_thread(backend_process.restart)
    restarted = time.monotonic()
    record = await asyncio.to_thread(backend_process.wait_one_record, restarted, 45.0)
    assert CallResult.model_validate(record["result"]).call_id == pending.call_id
    await asyncio.sleep(1.0)
    assert worker.pending_results() == []


async def test_sigterm_mid_call_delivers_the_result_before_exiting(
    backend_process: BackendProcess, worker: WorkerProcess, booking: BookingEndpoint
) -> None:
    bot_id = backend_process.create_bot(bot_spec(offline_bot(booking.url)))
    script = Script((Line("What time do you open"), Line("Goodbye")))
    call = asyncio.create_task(SimulatedCall(worker.ws_url, bot_id, "twilio", script).run())
    await asyncio.sleep(3.0)
    worker.signal(signal.SIGTERM)
    report = await call
    assert report.hung_up_by == "bot" and all(t.latency_ms is not None for t in report.turns)
    assert await asyncio.to_thread(worker.wait_exit, 30) == 0
    assert worker.pending_results() == []
    (summary,) = backend_process.calls()
    assert summary["status"] == "ended"


def create_knowledge_base(backend_process: BackendProcess, text: str) -> str:
    """A knowledge base with one text document; returns its id."""
    answer = httpx.post(
        f"{backend_process.url}/api/v1/knowledge-bases",
        json={"name": "Clinic FAQ"},
        headers=backend_process.headers,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    kb_id = str(answer.json()["id"])
    upload = httpx.post(
        f"{backend_process.url}/api/v1/knowledge-bases/{kb_id}/documents",
        params={"filename": "faq.txt"},
        content=text.encode(),
        headers={**backend_process.headers, "content-type": "application/octet-stream"},
        timeout=60,
    )
    assert upload.status_code == 201, upload.text
    return kb_id


async def test_the_bot_searches_its_knowledge_base_during_the_call(
    backend_process: BackendProcess, worker: WorkerProcess, booking: BookingEndpoint
) -> None:
    faq = "Opening hours: the clinic opens at nine in the morning, Monday to Saturday."
    kb_id = await asyncio.to_thread(create_knowledge_base, backend_process, faq)
    config = offline_bot(booking.url)
    rules = [
        ScriptedRule(
            when_any=["open"],
            say="Let me check that for you.",
            tool="search_knowledge",
            tool_arguments={"query": "opening hours"},
        ),
        *(config.llm.scripted.rules if config.llm.scripted else []),
    ]
    scripted = ScriptedLlmConfig(rules=rules)
    spec = bot_spec(
        config.model_copy(
            update={
                "llm": config.llm.model_copy(update={"scripted": scripted}),
                "tools": [*config.tools, SearchKnowledgeTool(knowledge_base_ids=[kb_id])],
            }
        )
    )
    spec["knowledge_base_ids"] = [kb_id]
    bot_id = backend_process.create_bot(spec)
    script = Script((Line("What time do you open"), Line("Goodbye")))
    report = await SimulatedCall(worker.ws_url, bot_id, "twilio", script).run()
    hung_up = time.monotonic()
    assert report.hung_up_by == "bot"
    record = await asyncio.to_thread(backend_process.wait_one_record, hung_up, RECORD_WITHIN_S)
    result = CallResult.model_validate(record["result"])
    (search,) = [t for t in result.transcript if t.tool_name == "search_knowledge"]
    assert search.tool_arguments == {"query": "opening hours"}
    assert isinstance(search.tool_result, dict)
    passages = search.tool_result["passages"]
    assert isinstance(passages, list) and passages
    assert "opens at nine" in str(passages[0])

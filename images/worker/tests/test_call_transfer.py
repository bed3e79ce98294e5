"""Ending and transferring Twilio calls for real: simulated calls to a worker process whose
``TWILIO_API_BASE_URL`` is the Twilio REST stand-in."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from minio import Minio

from ori_contracts import (
    CallOutcome,
    CallResult,
    CallTransfer,
    EndedBy,
    SttConfig,
    SttProvider,
    TranscriptRole,
    TransferStatus,
)
from ori_contracts.testing import DEMO_CLINIC_NUMBER
from ori_e2e.servers import S3Server
from ori_e2e.standins import STANDIN_KEY
from ori_e2e.standins.twilio_rest import STANDIN_ACCOUNT_SID, TwilioRestStandIn
from ori_e2e.voice import WorkerProcess
from ori_worker.sim.caller import CallReport, Line, Script, SimulatedCall
from ori_worker.twilio_calls import dial_twiml

from .conftest import CALLER_LINES, BookingEndpoint, WorkerFactory, offline_bot

pytestmark = pytest.mark.integration

HUMAN = "Can I talk to a person please"
ANNOUNCEMENT = "Transferring you to our front desk now."


@pytest.fixture
def twilio() -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn() as standin:
        yield standin


def twilio_env(twilio: TwilioRestStandIn) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": STANDIN_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": STANDIN_KEY,
        "TWILIO_API_BASE_URL": twilio.api_base_url,
    }


def start(
    factory: WorkerFactory, booking: BookingEndpoint, env: dict[str, str] | None
) -> WorkerProcess:
    stt = SttConfig(provider=SttProvider.POCKETSPHINX, phrases=[*CALLER_LINES, HUMAN])
    return factory(config=offline_bot(booking.url, stt=stt), extra_env=env)


async def phone(
    worker: WorkerProcess, *lines: str, hang_up_after_s: float = 4.0
) -> tuple[str, CallReport]:
    """Call over Twilio's protocol; returns the call's CallSid and what the caller heard."""
    call = SimulatedCall(
        worker.ws_url,
        "appointment-demo",
        "twilio",
        Script(tuple(map(Line, lines)), hang_up_after_s=hang_up_after_s),
    )
    return call.carrier.call_sid, await call.run()  # type: ignore[attr-defined]


async def result_of(worker: WorkerProcess, *, besides: str = "") -> CallResult:
    """The worker's call result (other than the call ``besides``), within 30 s."""
    for _ in range(150):
        results = [r for r in worker.pending_results() if r.call_id != besides]
        if results:
            return results[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no result within 30 s:\n{worker.log()}")


def last_bot_audio_s(s3: S3Server, bucket: str, result: CallResult) -> float:
    """When the bot's channel of the recording was last voiced, from the call's answer."""
    assert result.recording is not None
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    with wave.open(io.BytesIO(client.get_object(bucket, result.recording.object_key).read())) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2)
        rate: int = w.getframerate()
    voiced = np.flatnonzero(np.abs(frames[:, 1]) > 500)
    return (int(voiced[-1]) + 1) / rate


async def test_a_transfer_updates_the_live_call_once_after_the_announcement(
    worker_factory: WorkerFactory,
    booking: BookingEndpoint,
    twilio: TwilioRestStandIn,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    worker = start(worker_factory, booking, twilio_env(twilio))
    call_sid, report = await phone(worker, HUMAN)
    assert report.error is None and report.hung_up_by == "bot"

    result = await result_of(worker)
    assert (result.outcome, result.ended_by) == (CallOutcome.TRANSFERRED, EndedBy.BOT)
    assert result.transfer == CallTransfer(
        target=DEMO_CLINIC_NUMBER, status=TransferStatus.COMPLETED
    )
    assert [(r["call_sid"], r["form"]) for r in twilio.requests] == [
        (call_sid, {"Twiml": dial_twiml(DEMO_CLINIC_NUMBER)})
    ]
    bot = [t for t in result.transcript if t.role is TranscriptRole.ASSISTANT]
    assert bot[-1].text.endswith(ANNOUNCEMENT) and not bot[-1].interrupted
    # The announcement had been played to the end when Twilio was asked.
    assert result.timings.answered_at is not None
    heard = result.timings.answered_at + timedelta(
        seconds=last_bot_audio_s(s3_server, s3_bucket, result)
    )
    assert twilio.requests[0]["at"] >= heard.timestamp() - 0.05
    metrics = await asyncio.to_thread(worker.metrics)
    assert (
        'ori_worker_carrier_actions_total{action="transfer",status="completed",'
        'telephony="twilio"} 1.0' in metrics
    )


async def test_end_call_hangs_up_and_a_caller_hang_up_sends_nothing(
    worker_factory: WorkerFactory, booking: BookingEndpoint, twilio: TwilioRestStandIn
) -> None:
    worker = start(worker_factory, booking, twilio_env(twilio))
    call_sid, report = await phone(worker, "Goodbye")
    assert report.hung_up_by == "bot"
    result = await result_of(worker)
    assert (result.outcome, result.ended_by, result.transfer) == (
        CallOutcome.COMPLETED,
        EndedBy.BOT,
        None,
    )
    assert [(r["call_sid"], r["form"]) for r in twilio.requests] == [
        (call_sid, {"Status": "completed"})
    ]

    _, report = await phone(worker, "What time do you open", hang_up_after_s=1.0)
    assert report.hung_up_by == "caller"
    result = await result_of(worker, besides=result.call_id)
    assert (result.outcome, result.ended_by) == (CallOutcome.COMPLETED, EndedBy.CALLER)
    assert len(twilio.requests) == 1  # nothing more: the caller's hang-up ended the call


async def test_a_transfer_twilio_refuses_is_failed_in_a_delivered_result(
    worker_factory: WorkerFactory, booking: BookingEndpoint, twilio: TwilioRestStandIn
) -> None:
    twilio.fail_next(3, 500)
    worker = start(worker_factory, booking, twilio_env(twilio))
    _, report = await phone(worker, HUMAN)
    assert report.hung_up_by == "bot"
    result = await result_of(worker)
    assert result.outcome is CallOutcome.TRANSFERRED
    assert result.transfer is not None and result.transfer.status is TransferStatus.FAILED
    assert result.transfer.error == (
        "Twilio answered 500: Internal Server Error "
        "(code 20500, https://www.twilio.com/docs/errors/20500)"
    )
    assert [r["answered"] for r in twilio.requests] == [500]  # a Dial is not repeated
    metrics = await asyncio.to_thread(worker.metrics)
    assert 'action="transfer",status="failed",telephony="twilio"} 1.0' in metrics


async def test_without_twilio_credentials_a_transfer_is_unsupported_and_still_ends(
    worker_factory: WorkerFactory, booking: BookingEndpoint, twilio: TwilioRestStandIn
) -> None:
    worker = start(worker_factory, booking, None)
    _, report = await phone(worker, HUMAN)
    assert report.hung_up_by == "bot"
    result = await result_of(worker)
    assert result.outcome is CallOutcome.TRANSFERRED
    assert result.transfer is not None
    assert result.transfer.status is TransferStatus.UNSUPPORTED
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in (result.transfer.error or "")
    assert twilio.requests == []

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from pipecat.frames.frames import InputAudioRawFrame, InputDTMFFrame, InterruptionFrame
from pipecat.serializers.exotel import ExotelFrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.telnyx import TelnyxFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer

from ori_contracts import TelephonyProvider
from ori_worker.serializers import GenericPcmSerializer, TolerantSerializer
from ori_worker.sim.carrier import ExotelCarrier, GenericCarrier, TwilioCarrier
from ori_worker.telephony import HandshakeError, make_serializer, read_handshake

pytestmark = pytest.mark.unit

# Serializers read only the pipeline's input rate from their setup.
SETUP: Any = SimpleNamespace(audio_in_sample_rate=8000)


def feeder(messages: list[str]):  # type: ignore[no-untyped-def]
    queue = list(messages)

    async def receive() -> str:
        if not queue:
            await asyncio.sleep(10)
        return queue.pop(0)

    return receive


async def test_twilio_start_names_the_stream_the_call_and_its_parameters() -> None:
    carrier = TwilioCarrier("CA123", {"call_id": "call_7", "from_number": "+14155550142"})
    leg = await read_handshake(
        TelephonyProvider.TWILIO, feeder([str(m) for m in carrier.opening()])
    )
    assert (leg.stream_id, leg.carrier_call_id, leg.call_id) == ("MZ123", "CA123", "call_7")
    assert leg.from_number == "+14155550142" and leg.to_number is None
    assert isinstance(make_serializer(leg), TwilioFrameSerializer)


async def test_exotel_and_generic_start_events_are_read() -> None:
    exotel = ExotelCarrier("abc", {})
    leg = await read_handshake(TelephonyProvider.EXOTEL, feeder([str(m) for m in exotel.opening()]))
    assert (leg.stream_id, leg.from_number, leg.to_number) == (
        "st_abc",
        "+14155550142",
        "+14155550100",
    )
    assert isinstance(make_serializer(leg), ExotelFrameSerializer)
    generic = GenericCarrier("s1", {"call_id": "call_9"})
    leg = await read_handshake(
        TelephonyProvider.WEBSOCKET, feeder([str(m) for m in generic.opening()])
    )
    assert leg.call_id == "call_9"
    assert isinstance(make_serializer(leg), GenericPcmSerializer)


async def test_plivo_and_telnyx_start_events_are_read() -> None:
    plivo = json.dumps({"event": "start", "start": {"streamId": "s-1", "callId": "c-1"}})
    leg = await read_handshake(TelephonyProvider.PLIVO, feeder([plivo]))
    assert (leg.stream_id, leg.carrier_call_id) == ("s-1", "c-1")
    assert isinstance(make_serializer(leg), PlivoFrameSerializer)
    telnyx = json.dumps(
        {
            "event": "start",
            "stream_id": "t-1",
            "start": {
                "call_control_id": "v3:x",
                "from": "+14155550142",
                "media_format": {"encoding": "PCMA"},
            },
        }
    )
    leg = await read_handshake(
        TelephonyProvider.TELNYX, feeder([json.dumps({"event": "connected"}), telnyx])
    )
    assert (leg.stream_id, leg.encoding, leg.from_number) == ("t-1", "PCMA", "+14155550142")
    assert isinstance(make_serializer(leg), TelnyxFrameSerializer)


async def test_a_stream_without_a_start_event_is_refused() -> None:
    noise = ["not json", json.dumps({"event": "connected"}), json.dumps({"event": "media"})]
    with pytest.raises(HandshakeError, match="no twilio start event"):
        await read_handshake(TelephonyProvider.TWILIO, feeder(noise))
    with pytest.raises(HandshakeError, match="within 0.1 s"):
        await read_handshake(TelephonyProvider.TWILIO, feeder([]), timeout_s=0.1)


async def test_local_numbers_are_not_passed_off_as_e164() -> None:
    start = {
        "event": "start",
        "start": {"stream_sid": "s", "call_sid": "c", "account_sid": "a", "from": "09876543210"},
    }
    leg = await read_handshake(TelephonyProvider.EXOTEL, feeder([json.dumps(start)]))
    assert leg.from_number is None


async def test_generic_pcm_round_trip_and_clear() -> None:
    serializer = GenericPcmSerializer()
    await serializer.setup(SETUP)
    frame = await serializer.deserialize(b"\x01\x00\x02\x00\x03")
    assert isinstance(frame, InputAudioRawFrame) and frame.audio == b"\x01\x00\x02\x00"
    assert json.loads(str(await serializer.serialize(InterruptionFrame()))) == {"event": "clear"}
    dtmf = await serializer.deserialize(json.dumps({"event": "dtmf", "digit": "7"}))
    assert isinstance(dtmf, InputDTMFFrame)


async def test_a_malformed_carrier_message_is_dropped_and_counted() -> None:
    seen: list[str] = []
    serializer = TolerantSerializer(
        TwilioFrameSerializer("MZ1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False)),
        seen.append,
    )
    bad_base64 = json.dumps({"event": "media", "media": {"payload": "!!!not base64!!!"}})
    bad_digit = json.dumps({"event": "dtmf", "dtmf": {"digit": None}})
    assert await serializer.deserialize(bad_base64) is None
    assert await serializer.deserialize("{truncated") is None
    assert await serializer.deserialize(bad_digit) is None
    assert serializer.malformed >= 1 and seen
    good = json.dumps(
        {"event": "media", "media": {"payload": base64.b64encode(b"\xff" * 160).decode()}}
    )
    await serializer.setup(SETUP)
    assert await serializer.deserialize(good) is None  # 20 ms: held for the next 20 ms
    assert isinstance(await serializer.deserialize(good), InputAudioRawFrame)


async def test_caller_audio_enters_the_pipeline_in_40_ms_chunks_in_order() -> None:
    serializer = TolerantSerializer(GenericPcmSerializer())
    await serializer.setup(SETUP)
    frames = [bytes([i]) * 320 for i in range(5)]  # five 20 ms messages at 8 kHz
    out = [await serializer.deserialize(f) for f in frames]
    assert [f is None for f in out] == [True, False, True, False, True]
    chunks = [f for f in out if isinstance(f, InputAudioRawFrame)]
    assert [c.audio for c in chunks] == [frames[0] + frames[1], frames[2] + frames[3]]
    assert all(c.sample_rate == 8000 and c.num_channels == 1 for c in chunks)
    dtmf = await serializer.deserialize(json.dumps({"event": "dtmf", "digit": "7"}))
    assert isinstance(dtmf, InputDTMFFrame)  # control messages are never held back
    long_message = bytes(960)  # 60 ms in one message passes at once
    last = await serializer.deserialize(long_message)
    assert isinstance(last, InputAudioRawFrame) and last.audio == frames[4] + long_message


async def test_chunking_can_be_turned_off() -> None:
    serializer = TolerantSerializer(GenericPcmSerializer(), chunk_ms=0)
    await serializer.setup(SETUP)
    frame = await serializer.deserialize(bytes(320))
    assert isinstance(frame, InputAudioRawFrame) and len(frame.audio) == 320

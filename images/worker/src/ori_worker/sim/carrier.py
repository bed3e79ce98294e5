"""The carrier side of each media-stream protocol the simulator can speak."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ori_worker.sim.audio import ulaw_decode, ulaw_encode_cached


@dataclass(frozen=True)
class Incoming:
    """What one message from the worker means to the carrier."""

    audio: bytes = b""
    clear: bool = False


class Carrier(Protocol):
    """Encodes the carrier's messages and decodes the worker's."""

    name: str

    def opening(self) -> list[str | bytes]:
        """Messages sent right after connecting."""
        ...

    def media(self, pcm: bytes, seq: int) -> str | bytes:
        """One 20 ms frame of caller audio."""
        ...

    def closing(self) -> list[str | bytes]:
        """Messages sent before hanging up."""
        ...

    def decode(self, message: str | bytes) -> Incoming:
        """What a worker message carries."""
        ...


@dataclass
class TwilioCarrier:
    """Twilio Media Streams: JSON events, base64 mu-law media."""

    call_sid: str
    parameters: dict[str, Any]
    name: str = "twilio"

    @property
    def stream_sid(self) -> str:
        """The stream id, derived from the call."""
        return "MZ" + self.call_sid[2:]

    def opening(self) -> list[str | bytes]:
        """``connected``, then ``start`` with the custom parameters."""
        start = {
            "streamSid": self.stream_sid,
            "accountSid": "AC" + "0" * 32,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        return [
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json.dumps(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "start": start,
                    "streamSid": self.stream_sid,
                }
            ),
        ]

    def media(self, pcm: bytes, seq: int) -> str:
        """A ``media`` event."""
        payload = base64.b64encode(ulaw_encode_cached(pcm)).decode()
        media = {
            "track": "inbound",
            "chunk": str(seq),
            "timestamp": str(seq * 20),
            "payload": payload,
        }
        return json.dumps(
            {
                "event": "media",
                "sequenceNumber": str(seq + 2),
                "media": media,
                "streamSid": self.stream_sid,
            }
        )

    def closing(self) -> list[str | bytes]:
        """A ``stop`` event."""
        stop = {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}
        return [json.dumps({"event": "stop", "streamSid": self.stream_sid, "stop": stop})]

    def decode(self, message: str | bytes) -> Incoming:
        """``media`` (mu-law) and ``clear``."""
        event = json.loads(message)
        if event.get("event") == "media":
            return Incoming(audio=ulaw_decode(base64.b64decode(event["media"]["payload"])))
        return Incoming(clear=event.get("event") == "clear")


@dataclass
class ExotelCarrier:
    """Exotel Voicebot: JSON events, base64 16-bit PCM media."""

    call_sid: str
    parameters: dict[str, Any]
    name: str = "exotel"

    def opening(self) -> list[str | bytes]:
        """``connected``, then ``start``."""
        start = {
            "stream_sid": "st_" + self.call_sid,
            "call_sid": self.call_sid,
            "account_sid": "ori-sim",
            "from": "+14155550142",
            "to": "+14155550100",
            "custom_parameters": self.parameters,
            "media_format": {"encoding": "base64", "sample_rate": "8000", "bit_rate": "128kbps"},
        }
        return [
            json.dumps({"event": "connected"}),
            json.dumps(
                {
                    "event": "start",
                    "sequence_number": 1,
                    "stream_sid": start["stream_sid"],
                    "start": start,
                }
            ),
        ]

    def media(self, pcm: bytes, seq: int) -> str:
        """A ``media`` event."""
        media = {
            "chunk": seq,
            "timestamp": str(seq * 20),
            "payload": base64.b64encode(pcm).decode(),
        }
        return json.dumps(
            {
                "event": "media",
                "sequence_number": seq + 2,
                "stream_sid": "st_" + self.call_sid,
                "media": media,
            }
        )

    def closing(self) -> list[str | bytes]:
        """A ``stop`` event."""
        return [json.dumps({"event": "stop", "stream_sid": "st_" + self.call_sid})]

    def decode(self, message: str | bytes) -> Incoming:
        """``media`` (PCM) and ``clear``."""
        event = json.loads(message)
        if event.get("event") == "media":
            return Incoming(audio=base64.b64decode(event["media"]["payload"]))
        return Incoming(clear=event.get("event") == "clear")


@dataclass
class GenericCarrier:
    """Ori's generic protocol: binary 8 kHz PCM, JSON control events."""

    call_sid: str
    parameters: dict[str, Any]
    name: str = "websocket"

    def opening(self) -> list[str | bytes]:
        """The ``start`` event."""
        start: dict[str, Any] = {
            "event": "start",
            "stream_id": self.call_sid,
            "parameters": self.parameters,
        }
        if "call_id" in self.parameters:
            start["call_id"] = self.parameters["call_id"]
        return [json.dumps(start)]

    def media(self, pcm: bytes, seq: int) -> bytes:  # noqa: ARG002 - same shape as the others
        """Raw PCM."""
        return pcm

    def closing(self) -> list[str | bytes]:
        """The ``stop`` event."""
        return [json.dumps({"event": "stop"})]

    def decode(self, message: str | bytes) -> Incoming:
        """Binary PCM and ``clear``."""
        if isinstance(message, bytes):
            return Incoming(audio=message)
        return Incoming(clear=json.loads(message).get("event") == "clear")


PROTOCOLS: dict[str, Callable[[str, dict[str, Any]], Carrier]] = {
    "twilio": TwilioCarrier,
    "exotel": ExotelCarrier,
    "websocket": GenericCarrier,
}
ROUTES = {"twilio": "twilio", "exotel": "exotel", "websocket": "ws"}

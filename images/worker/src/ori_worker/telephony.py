"""Carrier media-stream handshakes, and the serializer for each carrier.

Every carrier opens its WebSocket with one or two JSON messages (``connected``, ``start``)
that name the stream and the call. :func:`read_handshake` reads them (bounded in count and
time) into a :class:`CarrierLeg`; :func:`make_serializer` builds the pipecat serializer that
speaks that carrier's media protocol. Ori's telephony pipelines run at 8 kHz, the carriers'
own rate, so no serializer resamples (and none adds resampler delay).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.exotel import ExotelFrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.telnyx import TelnyxFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer

from ori_contracts import TelephonyProvider
from ori_contracts.ids import E164_PATTERN
from ori_worker.serializers import GenericPcmSerializer

CARRIER_SAMPLE_RATE_HZ = 8000
HANDSHAKE_MESSAGES = 3
_E164 = re.compile(E164_PATTERN)


class HandshakeError(ValueError):
    """The carrier did not open the stream the way its protocol says."""


@dataclass(frozen=True)
class CarrierLeg:
    """What the carrier told us about the call when it opened the stream."""

    provider: TelephonyProvider
    stream_id: str
    carrier_call_id: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    encoding: str = "PCMU"
    sample_rate_hz: int = CARRIER_SAMPLE_RATE_HZ
    """The rate the call's pipeline runs at: the carrier's 8 kHz, or ``AUDIO_SAMPLE_RATE``
    for LiveKit (WebRTC) calls, whose transport resamples to and from Opus's 48 kHz."""

    @property
    def call_id(self) -> str | None:
        """An Ori call id the carrier passed along (outbound calls), if any."""
        value = self.parameters.get("call_id")
        return value if isinstance(value, str) and value else None


def e164_or_none(value: object) -> str | None:
    """``value`` if it is an E.164 number, else None (carriers send local formats too)."""
    return value if isinstance(value, str) and _E164.fullmatch(value) else None


def _as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _leg_from(provider: TelephonyProvider, message: dict[str, Any]) -> CarrierLeg | None:
    start = _as_dict(message.get("start"))
    if message.get("event") != "start":
        return None
    if provider is TelephonyProvider.TWILIO:
        params = _as_dict(start.get("customParameters"))
        return CarrierLeg(
            provider,
            stream_id=str(start.get("streamSid") or message.get("streamSid") or ""),
            carrier_call_id=start.get("callSid"),
            from_number=e164_or_none(params.get("from_number") or params.get("from")),
            to_number=e164_or_none(params.get("to_number") or params.get("to")),
            parameters=params,
        )
    if provider is TelephonyProvider.EXOTEL:
        return CarrierLeg(
            provider,
            stream_id=str(start.get("stream_sid") or message.get("stream_sid") or ""),
            carrier_call_id=start.get("call_sid"),
            from_number=e164_or_none(start.get("from")),
            to_number=e164_or_none(start.get("to")),
            parameters=_as_dict(start.get("custom_parameters")),
        )
    if provider is TelephonyProvider.PLIVO:
        return CarrierLeg(
            provider,
            stream_id=str(start.get("streamId") or message.get("streamId") or ""),
            carrier_call_id=start.get("callId"),
            parameters=_as_dict(message.get("extra_headers") or start.get("extra_headers")),
        )
    if provider is TelephonyProvider.TELNYX:
        media = _as_dict(start.get("media_format"))
        return CarrierLeg(
            provider,
            stream_id=str(message.get("stream_id") or ""),
            carrier_call_id=start.get("call_control_id"),
            from_number=e164_or_none(start.get("from")),
            to_number=e164_or_none(start.get("to")),
            parameters=_as_dict(start.get("custom_parameters")),
            encoding=str(media.get("encoding") or "PCMU"),
        )
    return CarrierLeg(
        provider,
        stream_id=str(message.get("stream_id") or "generic"),
        carrier_call_id=message.get("call_id"),
        from_number=e164_or_none(message.get("from")),
        to_number=e164_or_none(message.get("to")),
        parameters={
            **_as_dict(message.get("parameters")),
            **({"call_id": message["call_id"]} if message.get("call_id") else {}),
        },
    )


async def read_handshake(
    provider: TelephonyProvider,
    receive_text: Callable[[], Awaitable[str]],
    *,
    timeout_s: float = 5.0,
) -> CarrierLeg:
    """Read the carrier's opening messages until its ``start`` event.

    Args:
        provider: Which carrier protocol the route speaks.
        receive_text: Returns the next text message (FastAPI's ``websocket.receive_text``).
        timeout_s: How long the whole handshake may take.

    Returns:
        The call as the carrier described it.

    Raises:
        HandshakeError: No ``start`` event within :data:`HANDSHAKE_MESSAGES` messages or
            ``timeout_s`` seconds, or the start event names no stream.
    """

    async def read() -> CarrierLeg:
        for _ in range(HANDSHAKE_MESSAGES):
            raw = await receive_text()
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                continue
            leg = _leg_from(provider, message) if isinstance(message, dict) else None
            if leg is not None:
                if not leg.stream_id:
                    raise HandshakeError(f"{provider} start event names no stream")
                return leg
        raise HandshakeError(f"no {provider} start event in the first {HANDSHAKE_MESSAGES}")

    try:
        return await asyncio.wait_for(read(), timeout=timeout_s)
    except TimeoutError as exc:
        raise HandshakeError(f"no {provider} start event within {timeout_s:g} s") from exc


def make_serializer(leg: CarrierLeg) -> FrameSerializer:
    """The pipecat serializer for ``leg``'s carrier, at 8 kHz, without REST hang-up."""
    rate = CARRIER_SAMPLE_RATE_HZ
    match leg.provider:
        case TelephonyProvider.TWILIO:
            return TwilioFrameSerializer(
                leg.stream_id,
                leg.carrier_call_id,
                params=TwilioFrameSerializer.InputParams(sample_rate=rate, auto_hang_up=False),
            )
        case TelephonyProvider.EXOTEL:
            return ExotelFrameSerializer(
                leg.stream_id,
                leg.carrier_call_id,
                params=ExotelFrameSerializer.InputParams(sample_rate=rate),
            )
        case TelephonyProvider.PLIVO:
            return PlivoFrameSerializer(
                leg.stream_id,
                leg.carrier_call_id,
                params=PlivoFrameSerializer.InputParams(sample_rate=rate, auto_hang_up=False),
            )
        case TelephonyProvider.TELNYX:
            return TelnyxFrameSerializer(
                leg.stream_id,
                outbound_encoding=leg.encoding,
                inbound_encoding=leg.encoding,
                call_control_id=leg.carrier_call_id,
                params=TelnyxFrameSerializer.InputParams(sample_rate=rate, auto_hang_up=False),
            )
        case _:
            return GenericPcmSerializer()

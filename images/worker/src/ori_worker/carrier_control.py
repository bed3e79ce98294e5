"""Carrier call control: what the carrier does when the bot ends or transfers a call.

The bot ends a call (``end_call``, ``transfer_call``, ``detected_voicemail``, a limit, an
error) by ending its pipeline. The transport plays out what the bot was saying, then closes
the media stream. Just before it closes, with the goodbye or the transfer announcement heard,
:meth:`CallCarrier.media_closing` acts once on the carrier's side:

* a transfer (the call's end is ``transferred``) asks the carrier to take the call to the
  tool's target, and records what happened in ``CallControl.transfer`` (``completed``,
  ``failed`` with the carrier's words, or ``unsupported`` with the reason);
* any other end the bot or the worker decided hangs the call up;
* a caller who hung up gets nothing: the stream is gone, and so is the call.

Each carrier brings the actions it supports. Twilio (with ``TWILIO_ACCOUNT_SID`` and
``TWILIO_AUTH_TOKEN``) transfers and hangs up through its REST API
(:mod:`ori_worker.twilio_calls`); LiveKit transfers the SIP participant
(``TransferSIPParticipant``) and hangs up by deleting the room
(:mod:`ori_worker.livekit_runner`). The other carriers cannot transfer from the worker: the
call still ends with outcome ``transferred`` (the bot did what it was told), the transfer is
``unsupported``, and closing the stream ends the call as before.

Every action is logged and counted in ``ori_worker_carrier_actions_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
from pipecat.frames.frames import CancelFrame, EndFrame, Frame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from ori_contracts import CallOutcome, CallTransfer, EndedBy, TelephonyProvider, TransferStatus
from ori_worker import metrics
from ori_worker.call_control import CallControl, CarrierError
from ori_worker.telephony import CarrierLeg
from ori_worker.twilio_calls import TwilioAccess, TwilioCall

log = logging.getLogger(__name__)

Transfer = Callable[[str], Awaitable[None]]
"""Takes the call to a target (E.164 or SIP URI); raises ``CarrierError`` when it cannot."""
HangUp = Callable[[], Awaitable[None]]
"""Ends the call on the carrier; raises ``CarrierError`` when it cannot."""

TRANSFER, HANG_UP = "transfer", "hang_up"
NOT_REACHED = "the media stream closed before the transfer could be made (the caller hung up)"
UNSUPPORTED: dict[TelephonyProvider, str] = {
    TelephonyProvider.TWILIO: "Twilio transfers need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
    "on the worker",
    TelephonyProvider.EXOTEL: "the worker cannot transfer Exotel calls: Exotel's Voicebot "
    "stream has no transfer (transfer in the Exotel flow after the stream ends)",
    TelephonyProvider.PLIVO: "the worker cannot transfer Plivo calls yet",
    TelephonyProvider.TELNYX: "the worker cannot transfer Telnyx calls yet",
    TelephonyProvider.WEBSOCKET: "the generic media protocol has no way to transfer a call",
}


class CallCarrier:
    """One call's carrier side: acts once when the bot's end of the media stream closes.

    Args:
        control: The call's end decision (and where its transfer result goes).
        provider: The carrier, for logs and metrics.
        transfer: How this carrier transfers the call; None if it cannot.
        hang_up: How this carrier hangs up beyond closing the stream; None if closing is all.
        unsupported: Why ``transfer`` is None.
    """

    def __init__(
        self,
        control: CallControl,
        provider: TelephonyProvider,
        *,
        transfer: Transfer | None = None,
        hang_up: HangUp | None = None,
        unsupported: str = "",
    ) -> None:
        self.control = control
        self.provider = provider
        self._transfer = transfer
        self._hang_up = hang_up
        self.unsupported = unsupported or f"the worker cannot transfer {provider} calls"
        self._acted = False

    async def media_closing(self) -> None:
        """The bot's end of the stream is closing after what it said was played: act once.

        Never raises a carrier's failure: it is logged, counted and, for a transfer, recorded.
        """
        if self._acted:
            return
        self._acted = True
        end = self.control.end
        if end is None or end.ended_by is EndedBy.CALLER:
            return
        target = self.control.transfer_target
        if end.outcome is CallOutcome.TRANSFERRED and target is not None:
            self.control.transfer = await self._transfer_to(target)
        elif self._hang_up is not None:
            error = await self._attempt(HANG_UP, self._hang_up())
            self._count(HANG_UP, _status(error))

    async def _transfer_to(self, target: str) -> CallTransfer:
        if self._transfer is None:
            log.warning("cannot transfer the call to %s: %s", target, self.unsupported)
            self._count(TRANSFER, TransferStatus.UNSUPPORTED)
            return CallTransfer(
                target=target, status=TransferStatus.UNSUPPORTED, error=self.unsupported
            )
        error = await self._attempt(TRANSFER, self._transfer(target))
        status = _status(error)
        self._count(TRANSFER, status)
        if error is None:
            log.info("transferred the call to %s", target)
        return CallTransfer(target=target, status=status, error=error)

    async def _attempt(self, action: str, request: Awaitable[None]) -> str | None:
        try:
            await request
        except CarrierError as exc:
            log.warning("%s %s failed: %s", self.provider, action, exc)
            return str(exc)[:2000] or type(exc).__name__
        except Exception as exc:  # a carrier action must never break the pipeline's end
            log.exception("%s %s failed unexpectedly", self.provider, action)
            return f"internal error: {type(exc).__name__}: {exc}"[:2000]
        return None

    def _count(self, action: str, status: TransferStatus) -> None:
        metrics.CARRIER_ACTIONS.labels(str(self.provider), action, str(status)).inc()


def _status(error: str | None) -> TransferStatus:
    return TransferStatus.COMPLETED if error is None else TransferStatus.FAILED


def media_carrier(
    leg: CarrierLeg, control: CallControl, http: httpx.AsyncClient, twilio: TwilioAccess | None
) -> CallCarrier:
    """The carrier side of a media-stream call (the ``/twilio``, ``/exotel``, ... routes)."""
    provider = leg.provider
    if provider is TelephonyProvider.TWILIO and twilio is not None:
        if not leg.carrier_call_id:
            reason = "Twilio's start message named no callSid to update"
            return CallCarrier(control, provider, unsupported=reason)
        call = TwilioCall(http, twilio, leg.carrier_call_id)
        return CallCarrier(control, provider, transfer=call.transfer, hang_up=call.hang_up)
    return CallCarrier(control, provider, unsupported=UNSUPPORTED.get(provider, ""))


def settle_transfer(control: CallControl) -> CallTransfer | None:
    """The result's ``transfer``: what the carrier did, for a call that ended ``transferred``."""
    end, target = control.end, control.transfer_target
    if end is None or end.outcome is not CallOutcome.TRANSFERRED or target is None:
        return None
    if control.transfer is not None:
        return control.transfer
    return CallTransfer(target=target, status=TransferStatus.FAILED, error=NOT_REACHED)


class CarrierEndSerializer(FrameSerializer):
    """Wraps a carrier serializer so the carrier acts just before the stream closes.

    pipecat's WebSocket output serializes the ``EndFrame`` (or ``CancelFrame``) once the
    audio before it has been sent at playback pace, and closes the socket right after.
    """

    def __init__(self, inner: FrameSerializer, carrier: CallCarrier) -> None:
        super().__init__()
        self.inner = inner
        self.carrier = carrier

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        """Set up the wrapped serializer."""
        await self.inner.setup(setup)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        """Serialize with the wrapped serializer; at the end, let the carrier act first."""
        if isinstance(frame, EndFrame | CancelFrame):
            await self.carrier.media_closing()
        return await self.inner.serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """Deserialize with the wrapped serializer."""
        return await self.inner.deserialize(data)

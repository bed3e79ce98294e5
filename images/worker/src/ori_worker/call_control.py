"""How a live call ends, decided once: the first reason to end wins.

Tools (end_call, transfer_call, detected_voicemail), the caller hanging up, the call limits
and errors all report here; the result is built from whatever was decided first. What the
carrier then did with a transfer (``ori_worker.carrier_control``) is kept here too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ori_contracts import CallOutcome, CallTransfer, EndedBy, FailureReason


@dataclass(frozen=True)
class CallEnd:
    """Why the call ended."""

    outcome: CallOutcome
    ended_by: EndedBy
    failure_reason: FailureReason | None = None
    detail: str | None = None


CALLER_HUNG_UP = CallEnd(CallOutcome.COMPLETED, EndedBy.CALLER)
BOT_ENDED = CallEnd(CallOutcome.COMPLETED, EndedBy.BOT)
TRANSFERRED = CallEnd(CallOutcome.TRANSFERRED, EndedBy.BOT)
VOICEMAIL = CallEnd(CallOutcome.VOICEMAIL, EndedBy.BOT)
MAX_DURATION = CallEnd(CallOutcome.TIMEOUT, EndedBy.SYSTEM, FailureReason.MAX_DURATION)
IDLE_TIMEOUT = CallEnd(CallOutcome.TIMEOUT, EndedBy.SYSTEM, FailureReason.IDLE_TIMEOUT)


class CarrierError(Exception):
    """The carrier refused a call-control request or could not be reached (``str()``: why)."""


def failed(reason: FailureReason, detail: str) -> CallEnd:
    """A failure end with a human-readable detail (no secrets)."""
    return CallEnd(CallOutcome.FAILED, EndedBy.SYSTEM, reason, detail[:2000])


class CallControl:
    """The live call's end decision and what tools asked for along the way."""

    def __init__(self) -> None:
        self.end: CallEnd | None = None
        self.disposition: str | None = None
        self.transfer_target: str | None = None
        self.transfer: CallTransfer | None = None
        """What the carrier did with the transfer, once it was asked."""
        self.ending = asyncio.Event()

    def end_with(self, end: CallEnd) -> bool:
        """Record ``end`` unless an earlier reason already won; True if this one won."""
        if self.end is not None:
            return False
        self.end = end
        self.ending.set()
        return True

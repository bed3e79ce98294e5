"""LiveKit calls, the parts without I/O: access tokens, rooms, webhook events, dial failures.

A LiveKit call is a room with the caller in it (a SIP participant, or a browser) and the bot
joining it as one more participant. The worker's four LiveKit entry points
(``ori_worker.livekit_routes``) differ only in how the room and its caller come to be:

* ``POST /attach``: the dialler dialled and screened the call; the callee is in the room.
* ``POST /livekit/dispatch``: LiveKit's webhook says a SIP participant (an inbound call to a
  number whose dispatch rule names the bot in :data:`LIVEKIT_BOT_ATTRIBUTE`) joined a room.
* ``POST /livekit/dialout``: the worker creates the room and dials the number through LiveKit
  SIP (``CreateSIPParticipant``, waiting for the answer).
* ``POST /livekit/widget``: the worker creates the room and mints a browser's token for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from livekit import api
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from ori_contracts import CallOutcome, EndedBy, FailureReason, TelephonyProvider
from ori_contracts.ids import ID_PATTERN
from ori_contracts.wire import LIVEKIT_BOT_ATTRIBUTE
from ori_worker.call_control import CallEnd, failed
from ori_worker.telephony import CarrierLeg, e164_or_none

if TYPE_CHECKING:
    from ori_worker.settings import WorkerSettings

BOT_IDENTITY_PREFIX = "ori-bot-"
"""The bot's identity in a room is this prefix and the call id."""
BOT_TOKEN_TTL = timedelta(hours=6)
CALLER_TOKEN_TTL = timedelta(minutes=15)
ROOM_EMPTY_TIMEOUT_S = 120
"""A room the worker creates closes if nobody joins it within this many seconds."""

# Attributes LiveKit SIP sets on a SIP participant.
SIP_CALL_ID = "sip.callID"
SIP_PHONE_NUMBER = "sip.phoneNumber"
SIP_TRUNK_NUMBER = "sip.trunkPhoneNumber"

_BUSY = frozenset({486, 600})
_NO_ANSWER = frozenset({408, 480, 487})
_REJECTED = frozenset({403, 603})
_ID = re.compile(ID_PATTERN)


class LiveKitNotConfigured(RuntimeError):
    """The worker has no LiveKit server (``LIVEKIT_URL``, key and secret) to run this call on."""


class NotForUs(ValueError):
    """A LiveKit webhook event that starts no call (``str()`` says why)."""


@dataclass(frozen=True)
class LiveKitAccess:
    """Where the LiveKit server is and the credentials tokens and API calls are signed with."""

    url: str
    api_key: str
    api_secret: str
    trunk_id: str | None = None

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> LiveKitAccess:
        """The access ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` give.

        Raises:
            LiveKitNotConfigured: One of the three is unset.
        """
        url, key, secret = (
            settings.livekit_url,
            settings.livekit_api_key,
            settings.livekit_api_secret,
        )
        if url is None or key is None or secret is None:
            raise LiveKitNotConfigured(
                "LiveKit calls need LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET"
            )
        return cls(
            str(url).rstrip("/"),
            key.get_secret_value(),
            secret.get_secret_value(),
            settings.livekit_trunk_id,
        )

    def client(self) -> api.LiveKitAPI:
        """A server-API client (use it as ``async with``)."""
        return api.LiveKitAPI(self.url, self.api_key, self.api_secret, failover=False)

    def token(
        self,
        room: str,
        identity: str,
        *,
        ttl: timedelta,
        name: str | None = None,
        kind: str | None = None,
    ) -> str:
        """An access token that joins ``room`` (and no other) as ``identity``."""
        token = api.AccessToken(self.api_key, self.api_secret).with_identity(identity)
        token = token.with_ttl(ttl).with_grants(
            api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
        )
        if name:
            token = token.with_name(name)
        if kind:
            token = token.with_kind(kind)  # type: ignore[arg-type]
        return token.to_jwt()

    def bot_token(self, room: str, call_id: str) -> str:
        """The bot's token for ``room``."""
        return self.token(room, bot_identity(call_id), ttl=BOT_TOKEN_TTL, name="Ori")

    def webhook_receiver(self) -> api.WebhookReceiver:
        """Verifies LiveKit's webhook signatures (JWT signed with the API key, body SHA-256)."""
        return api.WebhookReceiver(api.TokenVerifier(self.api_key, self.api_secret))


def room_for(call_id: str) -> str:
    """The room a call the worker creates runs in."""
    return f"ori-{call_id}"


def bot_identity(call_id: str) -> str:
    """The bot's identity in the room of ``call_id``."""
    return f"{BOT_IDENTITY_PREFIX}{call_id}"


@dataclass(frozen=True)
class RoomParticipant:
    """The caller (or callee) in a room, as LiveKit describes it."""

    identity: str
    sip: bool
    attributes: dict[str, str]

    @classmethod
    def of(cls, info: ParticipantInfo) -> RoomParticipant:
        """From LiveKit's ``ParticipantInfo``."""
        return cls(info.identity, info.kind == ParticipantInfo.Kind.SIP, dict(info.attributes))

    def leg(self, room: str, *, outbound: bool, sample_rate_hz: int) -> CarrierLeg:
        """The call's leg: an inbound caller calls the trunk's number, a callee is called on it."""
        number = e164_or_none(self.attributes.get(SIP_PHONE_NUMBER))
        trunk = e164_or_none(self.attributes.get(SIP_TRUNK_NUMBER))
        return livekit_leg(
            room,
            self.identity,
            carrier_call_id=self.attributes.get(SIP_CALL_ID),
            from_number=trunk if outbound else number,
            to_number=number if outbound else trunk,
            sample_rate_hz=sample_rate_hz,
        )


def livekit_leg(
    room: str,
    identity: str | None,
    *,
    sample_rate_hz: int,
    carrier_call_id: str | None = None,
    from_number: str | None = None,
    to_number: str | None = None,
) -> CarrierLeg:
    """A LiveKit call's leg: the room is the stream, the caller's identity a parameter."""
    parameters = {"livekit_room": room}
    if identity:
        parameters["livekit_identity"] = identity
    return CarrierLeg(
        TelephonyProvider.LIVEKIT,
        stream_id=room,
        carrier_call_id=carrier_call_id or None,
        from_number=from_number,
        to_number=to_number,
        parameters=parameters,
        sample_rate_hz=sample_rate_hz,
    )


def pick_caller(
    participants: list[ParticipantInfo], identity: str | None
) -> RoomParticipant | None:
    """The participant a call is with: the one named, else the first SIP one, else anyone.

    Bots (Ori's, or LiveKit agents) are never the caller.
    """
    people = [
        RoomParticipant.of(p)
        for p in participants
        if not p.identity.startswith(BOT_IDENTITY_PREFIX) and p.kind != ParticipantInfo.Kind.AGENT
    ]
    if identity is not None:
        return next((p for p in people if p.identity == identity), None)
    return next((p for p in people if p.sip), people[0] if people else None)


@dataclass(frozen=True)
class InboundCall:
    """An inbound SIP call a webhook announced: the room, its caller and the bot to answer."""

    room: str
    caller: RoomParticipant
    bot_id: str


def inbound_call(event: WebhookEvent) -> InboundCall:
    """The inbound SIP call a ``participant_joined`` webhook announces.

    Raises:
        NotForUs: Another event, a participant that is not a SIP caller, or a SIP caller
            whose dispatch rule names no valid bot.
    """
    if event.event != "participant_joined":
        raise NotForUs(f"event {event.event or '(none)'} starts no call")
    caller = RoomParticipant.of(event.participant)
    if not caller.sip:
        raise NotForUs(f"participant {caller.identity} is not a SIP caller")
    bot_id = caller.attributes.get(LIVEKIT_BOT_ATTRIBUTE, "")
    if not _valid_id(bot_id):
        raise NotForUs(
            f"SIP caller {caller.identity} in room {event.room.name} has no valid "
            f"{LIVEKIT_BOT_ATTRIBUTE} attribute (set it in the number's dispatch rule)"
        )
    return InboundCall(event.room.name, caller, bot_id)


def _valid_id(value: str) -> bool:
    return bool(_ID.fullmatch(value))


def dial_failure(exc: Exception) -> CallEnd:
    """How a failed ``CreateSIPParticipant`` ends the call.

    A SIP answer maps to the outcome it means (486/600 busy, 408/480/487 no answer, 403/603
    rejected); anything else (LiveKit has no SIP service, the trunk is unknown, the server is
    unreachable) is a ``dial_error`` failure with LiveKit's own words.
    """
    code = exc.sip_status_code if isinstance(exc, api.SipCallError) else None
    if code in _BUSY:
        return CallEnd(CallOutcome.BUSY, EndedBy.SYSTEM)
    if code in _NO_ANSWER:
        return CallEnd(CallOutcome.NO_ANSWER, EndedBy.SYSTEM)
    if code in _REJECTED:
        return CallEnd(CallOutcome.REJECTED, EndedBy.SYSTEM)
    if isinstance(exc, api.ServerError):
        detail = f"LiveKit refused the dial-out: {exc.code}: {exc.message}"
        if code is not None:
            detail += f" (SIP {code})"
    else:
        detail = f"LiveKit could not be reached: {type(exc).__name__}: {exc}"
    return failed(FailureReason.DIAL_ERROR, detail)

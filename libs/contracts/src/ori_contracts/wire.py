"""HTTP bodies and paths between Ori's services (the arrows that are not Redis).

* worker -> backend, call start: ``POST {VOXBRIDGE_CONFIG_URL}`` with a :class:`ConfigRequest`
  answers a ``RuntimeConfig`` (200), 404 for an unknown call or bot, 401/403 for bad
  credentials. The same request made twice for one ``call_id`` answers the same config.
* worker -> backend, call end: ``POST {results_url(VOXBRIDGE_CONFIG_URL)}`` with a
  ``CallResult`` answers 200 (stored, or already stored: ingestion is idempotent on
  ``call_id``) or 4xx for a document that will never be accepted (the outbox stops retrying).
* dialler or backend -> worker: ``POST /attach`` with an :class:`AttachRequest` hands an
  answered call to the worker; 409 when the worker has no free slot.
* LiveKit -> worker: ``POST /livekit/dispatch`` with a LiveKit webhook (signed with the LiveKit
  API key); a SIP participant joining a room starts the bot :data:`LIVEKIT_BOT_ATTRIBUTE` names.
* backend -> worker: ``POST /livekit/dialout`` with a :class:`LiveKitDialoutRequest`: the worker
  creates the room and dials the number through LiveKit SIP, answering a
  :class:`LiveKitCallStarted` once the callee answers, 502 when the dial fails.
* backend or console -> worker: ``POST /livekit/widget`` with a :class:`LiveKitWidgetRequest`
  answers a :class:`LiveKitWidgetSession`: the room and a token a browser joins it with.

Every hop authenticates with ``Authorization: Bearer <token>``, where the token is the shared
``VOXCORE_SECRET`` or a per-call token the backend signed for that ``call_id``.
"""

from typing import Final, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator

from ori_contracts.base import ContractModel, JsonObject, UtcDatetime
from ori_contracts.ids import E164, BotId, CallId, CampaignId, ContactId, WorkerId
from ori_contracts.providers import TelephonyProvider
from ori_contracts.runtime_config import CallDirection

__all__ = [
    "ATTACH_PATH",
    "CALL_ID_HEADER",
    "CALL_RESULTS_PATH",
    "CALL_TOKEN_HEADER",
    "CONFIG_PATH",
    "LIVEKIT_BOT_ATTRIBUTE",
    "LIVEKIT_DIALOUT_PATH",
    "LIVEKIT_DISPATCH_PATH",
    "LIVEKIT_WIDGET_PATH",
    "AttachRequest",
    "ConfigRequest",
    "LiveKitCallStarted",
    "LiveKitDialoutRequest",
    "LiveKitWidgetRequest",
    "LiveKitWidgetSession",
    "bearer",
    "results_url",
]

CONFIG_PATH: Final = "/api/v1/config"
"""The backend path a worker asks for a call's runtime config (``VOXBRIDGE_CONFIG_URL``)."""

CALL_RESULTS_PATH: Final = "/api/v1/call-results"
"""The backend path a worker delivers a finished call's ``CallResult`` to."""

ATTACH_PATH: Final = "/attach"
"""The worker path the dialler (or backend) hands an answered call to."""

LIVEKIT_DISPATCH_PATH: Final = "/livekit/dispatch"
"""The worker path LiveKit posts its webhooks to (inbound SIP calls)."""

LIVEKIT_DIALOUT_PATH: Final = "/livekit/dialout"
"""The worker path that places an outbound call through LiveKit SIP."""

LIVEKIT_WIDGET_PATH: Final = "/livekit/widget"
"""The worker path that opens a browser (widget) call in a LiveKit room."""

CALL_ID_HEADER: Final = "X-Ori-Call-Id"
"""The call a request is about, when the sender allocated it (with :data:`CALL_TOKEN_HEADER`)."""

CALL_TOKEN_HEADER: Final = "X-Ori-Call-Token"  # noqa: S105 - a header name, not a secret
"""A per-call token (``ori_contracts.allocation.sign_call_token``): the backend answers one
with a runtime config, and sends one with a LiveKit webhook it forwards to a claimed worker."""

LIVEKIT_BOT_ATTRIBUTE: Final = "ori.bot_id"
"""The SIP participant attribute naming an inbound call's bot; the LiveKit SIP dispatch rule of
the called number (DID) sets it (``attributes: {"ori.bot_id": "<bot id>"}``)."""


class ConfigRequest(ContractModel):
    """A worker's request for the runtime config of the call it is about to run.

    An outbound call was prepared by the backend, so ``call_id`` alone finds it. An inbound
    call arrives at a worker on a bot's route (``/ws/{bot_id}``, ``/exotel/{bot_id}``, ...), so
    the worker names the bot and the numbers, and the backend creates the call.
    """

    call_id: CallId = Field(description="The call's id (the worker mints one for inbound calls).")
    bot_id: BotId | None = Field(
        default=None, description="The bot the call arrived for; required for inbound calls."
    )
    direction: CallDirection = Field(description="Inbound or outbound.")
    telephony: TelephonyProvider = Field(description="The carrier protocol the call uses.")
    from_number: E164 | None = Field(default=None, description="Caller number, if known.")
    to_number: E164 | None = Field(default=None, description="Called number, if known.")
    worker_id: WorkerId | None = Field(default=None, description="The worker asking.")
    carrier_call_id: str | None = Field(
        default=None,
        max_length=256,
        description="The carrier's own id for the call (Twilio CallSid, Exotel CallSid, ...).",
    )
    custom_parameters: JsonObject = Field(
        default_factory=dict,
        description="Parameters the carrier passed on the stream (e.g. Twilio <Parameter>s).",
    )


class AttachRequest(ContractModel):
    """Hand an answered call to a worker: it joins the call's room or stream and runs it."""

    call_id: CallId = Field(description="The call, already prepared by the backend.")
    campaign_id: CampaignId | None = Field(default=None, description="Campaign, if any.")
    contact_id: ContactId | None = Field(default=None, description="Contact being called.")
    room: str = Field(
        min_length=1, max_length=256, description="The LiveKit room the answered call is in."
    )
    participant_identity: str | None = Field(
        default=None, max_length=256, description="The SIP participant's identity in the room."
    )


class LiveKitCallStarted(ContractModel):
    """A worker's answer once it runs a LiveKit call (attach, dispatch, dial-out)."""

    call_id: CallId = Field(description="The call.")
    room: str = Field(min_length=1, max_length=256, description="The LiveKit room it runs in.")
    participant_identity: str | None = Field(
        default=None, max_length=256, description="The caller's (or callee's) identity there."
    )


class LiveKitDialoutRequest(ContractModel):
    """Place an outbound call: the worker creates the room and dials through LiveKit SIP."""

    call_id: CallId = Field(description="The call, already prepared by the backend.")
    to_number: E164 = Field(description="The number to dial.")
    from_number: E164 | None = Field(
        default=None, description="Caller id to present; the trunk's number when unset."
    )
    sip_trunk_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Outbound SIP trunk; the worker's LIVEKIT_TRUNK_ID when unset.",
    )
    room: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Room name; ``ori-<call_id>`` when unset.",
    )
    ringing_timeout_s: float = Field(
        30.0, ge=1, le=120, description="How long the phone may ring before the call fails."
    )


class LiveKitWidgetRequest(ContractModel):
    """Open a browser call: a room with the bot in it, and a token to join it."""

    bot_id: BotId | None = Field(default=None, description="The bot (an inbound widget call).")
    call_id: CallId | None = Field(
        default=None, description="A call the backend already prepared, instead of a bot."
    )
    participant_name: str | None = Field(
        default=None, max_length=128, description="The visitor's display name in the room."
    )

    @model_validator(mode="after")
    def _names_a_bot_or_a_call(self) -> Self:
        if self.bot_id is None and self.call_id is None:
            raise ValueError("a widget call needs a bot_id or a call_id")
        return self


class LiveKitWidgetSession(ContractModel):
    """What a browser needs to join its widget call."""

    url: str = Field(description="The LiveKit server URL (LIVEKIT_URL).")
    room: str = Field(min_length=1, max_length=256, description="The room the bot waits in.")
    token: str = Field(min_length=1, description="A LiveKit access token for that room only.")
    call_id: CallId = Field(description="The call.")
    participant_identity: str = Field(
        min_length=1, max_length=256, description="The browser's identity in the room."
    )
    expires_at: UtcDatetime = Field(description="When the token stops admitting the browser.")


def results_url(config_url: str) -> str:
    """The result-delivery URL on the same backend as ``config_url``.

    Args:
        config_url: ``VOXBRIDGE_CONFIG_URL``, e.g. ``http://backend:8080/api/v1/config``.

    Returns:
        The same scheme and host with :data:`CALL_RESULTS_PATH`, keeping any prefix that
        precedes :data:`CONFIG_PATH` (for a backend served under a sub-path).
    """
    parts = urlsplit(config_url)
    path = parts.path.rstrip("/")
    prefix = path[: -len(CONFIG_PATH)] if path.endswith(CONFIG_PATH) else ""
    return urlunsplit((parts.scheme, parts.netloc, prefix + CALL_RESULTS_PATH, "", ""))


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header for ``token``."""
    return {"Authorization": f"Bearer {token}"}

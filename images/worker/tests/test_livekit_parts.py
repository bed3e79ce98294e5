"""The LiveKit parts without I/O: tokens, webhook events, callers in a room, dial failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from livekit import api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent
from pydantic import ValidationError

from ori_contracts import CallOutcome, FailureReason, TelephonyProvider
from ori_contracts.wire import LIVEKIT_BOT_ATTRIBUTE, LiveKitDialoutRequest, LiveKitWidgetRequest
from ori_worker.livekit_calls import (
    LiveKitAccess,
    LiveKitNotConfigured,
    NotForUs,
    dial_failure,
    inbound_call,
    pick_caller,
    room_for,
)
from ori_worker.settings import WorkerSettings

pytestmark = pytest.mark.unit

ACCESS = LiveKitAccess("ws://127.0.0.1:7880", "key", "a-secret-of-at-least-32-characters-long")
SIP = ParticipantInfo.Kind.SIP


def participant(
    identity: str, kind: ParticipantInfo.Kind = SIP, attributes: dict[str, str] | None = None
) -> ParticipantInfo:
    return ParticipantInfo(identity=identity, kind=kind, attributes=attributes or {})


def joined(who: ParticipantInfo, event: str = "participant_joined") -> WebhookEvent:
    return WebhookEvent(event=event, room=Room(name="did-room"), participant=who)


def test_tokens_join_one_room_as_one_identity() -> None:
    token = ACCESS.token("ori-call_1", "web-1", ttl=timedelta(minutes=5), name="Visitor")
    claims = api.TokenVerifier(ACCESS.api_key, ACCESS.api_secret).verify(token)
    assert claims.video is not None
    assert (claims.identity, claims.name, claims.video.room) == ("web-1", "Visitor", "ori-call_1")
    assert claims.video.room_join and not claims.video.room_admin
    bot = api.TokenVerifier("key", ACCESS.api_secret).verify(ACCESS.bot_token("r", "call_1"))
    assert bot.identity == "ori-bot-call_1"
    assert room_for("call_1") == "ori-call_1"


def test_a_worker_without_livekit_settings_says_which_are_missing() -> None:
    settings = WorkerSettings(
        voxbridge_config_url="http://127.0.0.1:9/api/v1/config",  # type: ignore[arg-type]
        voxcore_secret="s" * 32,  # type: ignore[arg-type]
        max_concurrent_calls=1,
        minio_endpoint="127.0.0.1:9000",
        minio_access_key="a",  # type: ignore[arg-type]
        minio_secret_key="b",  # type: ignore[arg-type]
        minio_bucket="recordings",
    )
    with pytest.raises(LiveKitNotConfigured, match="LIVEKIT_URL, LIVEKIT_API_KEY"):
        LiveKitAccess.from_settings(settings)


def test_a_sip_caller_joining_names_the_bot_and_the_numbers() -> None:
    caller = participant(
        "sip_+15550001111",
        attributes={
            LIVEKIT_BOT_ATTRIBUTE: "front-desk",
            "sip.phoneNumber": "+15550001111",
            "sip.trunkPhoneNumber": "+15550002222",
            "sip.callID": "SCL_abc",
        },
    )
    call = inbound_call(joined(caller))
    assert (call.room, call.bot_id, call.caller.identity) == (
        "did-room",
        "front-desk",
        "sip_+15550001111",
    )
    leg = call.caller.leg(call.room, outbound=False, sample_rate_hz=16000)
    assert (leg.provider, leg.stream_id, leg.carrier_call_id) == (
        TelephonyProvider.LIVEKIT,
        "did-room",
        "SCL_abc",
    )
    assert (leg.from_number, leg.to_number, leg.sample_rate_hz) == (
        "+15550001111",
        "+15550002222",
        16000,
    )
    outbound = call.caller.leg(call.room, outbound=True, sample_rate_hz=16000)
    assert (outbound.from_number, outbound.to_number) == ("+15550002222", "+15550001111")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (joined(participant("x"), "room_started"), "event room_started starts no call"),
        (joined(participant("web", ParticipantInfo.Kind.STANDARD)), "not a SIP caller"),
        (joined(participant("sip-1")), "no valid ori.bot_id attribute"),
        (joined(participant("sip-1", attributes={LIVEKIT_BOT_ATTRIBUTE: "bad id!"})), "no valid"),
    ],
)
def test_other_webhook_events_start_nothing_and_say_why(event: WebhookEvent, reason: str) -> None:
    with pytest.raises(NotForUs, match=reason):
        inbound_call(event)


def test_the_caller_is_the_named_participant_else_the_sip_one_never_a_bot() -> None:
    people = [
        participant("ori-bot-call_1", ParticipantInfo.Kind.STANDARD),
        participant("agent", ParticipantInfo.Kind.AGENT),
        participant("supervisor", ParticipantInfo.Kind.STANDARD),
        participant("callee"),
    ]
    picked = pick_caller(people, None)
    assert picked is not None and (picked.identity, picked.sip) == ("callee", True)
    named = pick_caller(people, "supervisor")
    assert named is not None and named.identity == "supervisor"
    assert pick_caller(people, "ori-bot-call_1") is None
    assert pick_caller(people[:2], None) is None


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("486", CallOutcome.BUSY),
        ("480", CallOutcome.NO_ANSWER),
        ("603", CallOutcome.REJECTED),
        ("500", CallOutcome.FAILED),
    ],
)
def test_a_sip_answer_becomes_the_outcome_it_means(code: str, outcome: CallOutcome) -> None:
    error = api.SipCallError(
        "unavailable", "call failed", status=503, metadata={"sip_status_code": code}
    )
    end = dial_failure(error)
    assert end.outcome is outcome
    if outcome is CallOutcome.FAILED:
        assert end.failure_reason is FailureReason.DIAL_ERROR and "SIP 500" in (end.detail or "")


def test_livekit_refusing_or_missing_is_a_dial_error_in_its_own_words() -> None:
    refused = dial_failure(api.ServerError("internal", "sip not connected", status=500))
    assert refused.failure_reason is FailureReason.DIAL_ERROR
    assert refused.detail == "LiveKit refused the dial-out: internal: sip not connected"
    unreachable = dial_failure(ConnectionRefusedError(111, "Connection refused"))
    assert (unreachable.detail or "").startswith("LiveKit could not be reached")


def test_the_livekit_wire_bodies_refuse_what_cannot_work() -> None:
    with pytest.raises(ValidationError, match="bot_id or a call_id"):
        LiveKitWidgetRequest()
    with pytest.raises(ValidationError):
        LiveKitDialoutRequest(call_id="call_1", to_number="555-1234")
    with pytest.raises(ValidationError):
        LiveKitDialoutRequest(call_id="call_1", to_number="+15550001111", room="a room")
    request = LiveKitDialoutRequest(call_id="call_1", to_number="+15550001111")
    assert (request.ringing_timeout_s, request.room, request.sip_trunk_id) == (30.0, None, None)

"""Carrier call control, the decisions: when the carrier is asked to transfer or hang up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from ori_contracts import CallTransfer, FailureReason, TelephonyProvider, TransferStatus
from ori_worker import call_control
from ori_worker.call_control import CallControl, CarrierError
from ori_worker.carrier_control import (
    NOT_REACHED,
    CallCarrier,
    media_carrier,
    settle_transfer,
)
from ori_worker.settings import WorkerSettings
from ori_worker.telephony import CarrierLeg
from ori_worker.twilio_calls import TwilioAccess, dial_twiml

pytestmark = pytest.mark.unit

TARGET = "+14155550100"


class Carrier:
    """A carrier's actions, recording what it was asked (or failing as told)."""

    def __init__(self, fail: str | None = None) -> None:
        self.asked: list[tuple[str, ...]] = []
        self.fail = fail

    async def transfer(self, target: str) -> None:
        self.asked.append(("transfer", target))
        if self.fail:
            raise CarrierError(self.fail)

    async def hang_up(self) -> None:
        self.asked.append(("hang_up",))
        if self.fail:
            raise CarrierError(self.fail)


def ended(end: call_control.CallEnd, target: str | None = None) -> CallControl:
    control = CallControl()
    control.transfer_target = target
    control.end_with(end)
    return control


def test_transfer_twiml_dials_a_number_or_a_sip_uri_escaped() -> None:
    assert dial_twiml(TARGET) == f"<Response><Dial><Number>{TARGET}</Number></Dial></Response>"
    assert dial_twiml("sip:desk@example.com;x=<1>&y") == (
        "<Response><Dial><Sip>sip:desk@example.com;x=&lt;1&gt;&amp;y</Sip></Dial></Response>"
    )


async def test_a_transfer_asks_the_carrier_once_and_is_recorded() -> None:
    carrier, control = Carrier(), ended(call_control.TRANSFERRED, TARGET)
    link = CallCarrier(control, TelephonyProvider.TWILIO, transfer=carrier.transfer)
    await link.media_closing()
    await link.media_closing()  # the EndFrame and a late CancelFrame: still once
    assert carrier.asked == [("transfer", TARGET)]
    assert settle_transfer(control) == CallTransfer(target=TARGET, status=TransferStatus.COMPLETED)


async def test_a_refused_transfer_is_failed_with_the_carrier_s_words() -> None:
    carrier = Carrier(fail="Twilio answered 500: Internal Server Error (code 20500)")
    control = ended(call_control.TRANSFERRED, TARGET)
    link = CallCarrier(
        control, TelephonyProvider.TWILIO, transfer=carrier.transfer, hang_up=carrier.hang_up
    )
    await link.media_closing()
    assert carrier.asked == [("transfer", TARGET)]  # no hang-up after a failed transfer
    assert settle_transfer(control) == CallTransfer(
        target=TARGET,
        status=TransferStatus.FAILED,
        error="Twilio answered 500: Internal Server Error (code 20500)",
    )


async def test_an_unexpected_error_in_an_action_is_reported_not_raised() -> None:
    async def broken(_target: str) -> None:
        raise KeyError("oops")

    control = ended(call_control.TRANSFERRED, TARGET)
    await CallCarrier(control, TelephonyProvider.LIVEKIT, transfer=broken).media_closing()
    transfer = settle_transfer(control)
    assert transfer is not None and transfer.status is TransferStatus.FAILED
    assert transfer.error == "internal error: KeyError: 'oops'"


@pytest.mark.parametrize(
    "end",
    [
        call_control.BOT_ENDED,
        call_control.VOICEMAIL,
        call_control.IDLE_TIMEOUT,
        call_control.MAX_DURATION,
        call_control.failed(FailureReason.PROVIDER_ERROR, "tts died"),
    ],
)
async def test_every_end_the_bot_or_the_worker_decides_hangs_up(
    end: call_control.CallEnd,
) -> None:
    carrier = Carrier()
    link = CallCarrier(
        ended(end), TelephonyProvider.TWILIO, transfer=carrier.transfer, hang_up=carrier.hang_up
    )
    await link.media_closing()
    assert carrier.asked == [("hang_up",)]


async def test_a_failed_hang_up_is_logged_not_raised() -> None:
    carrier = Carrier(fail="Twilio could not be reached")
    control = ended(call_control.BOT_ENDED, TARGET)  # end_call won; a later transfer lost
    await CallCarrier(control, TelephonyProvider.TWILIO, hang_up=carrier.hang_up).media_closing()
    assert carrier.asked == [("hang_up",)]
    assert settle_transfer(control) is None


async def test_a_caller_who_hung_up_gets_nothing() -> None:
    carrier = Carrier()
    for control in (ended(call_control.CALLER_HUNG_UP), CallControl()):
        link = CallCarrier(
            control, TelephonyProvider.TWILIO, transfer=carrier.transfer, hang_up=carrier.hang_up
        )
        await link.media_closing()
    assert carrier.asked == []


async def test_a_carrier_that_cannot_transfer_says_why() -> None:
    control = ended(call_control.TRANSFERRED, TARGET)
    await CallCarrier(control, TelephonyProvider.EXOTEL, unsupported="no way").media_closing()
    assert settle_transfer(control) == CallTransfer(
        target=TARGET, status=TransferStatus.UNSUPPORTED, error="no way"
    )


def test_a_transfer_the_carrier_never_reached_failed() -> None:
    control = ended(call_control.TRANSFERRED, TARGET)  # the caller hung up mid-announcement
    assert settle_transfer(control) == CallTransfer(
        target=TARGET, status=TransferStatus.FAILED, error=NOT_REACHED
    )


def twilio_leg(call_sid: str | None = "CA" + "1" * 32) -> CarrierLeg:
    return CarrierLeg(TelephonyProvider.TWILIO, "MZ1", carrier_call_id=call_sid)


async def test_each_media_carrier_transfers_or_says_why_not() -> None:
    access = TwilioAccess("AC" + "2" * 32, "token", "http://127.0.0.1:9")
    reasons: dict[str, Any] = {}
    async with httpx.AsyncClient() as http:
        legs = {
            "twilio, no credentials": (twilio_leg(), None),
            "twilio, no callSid": (twilio_leg(None), access),
            "exotel": (CarrierLeg(TelephonyProvider.EXOTEL, "s"), access),
            "plivo": (CarrierLeg(TelephonyProvider.PLIVO, "s"), access),
            "telnyx": (CarrierLeg(TelephonyProvider.TELNYX, "s"), access),
            "generic": (CarrierLeg(TelephonyProvider.WEBSOCKET, "s"), access),
        }
        for name, (leg, twilio) in legs.items():
            control = ended(call_control.TRANSFERRED, TARGET)
            await media_carrier(leg, control, http, twilio).media_closing()
            transfer = settle_transfer(control)
            assert transfer is not None and transfer.status is TransferStatus.UNSUPPORTED
            reasons[name] = transfer.error
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in reasons["twilio, no credentials"]
    assert "callSid" in reasons["twilio, no callSid"]
    assert "Exotel" in reasons["exotel"] and "Plivo" in reasons["plivo"]
    assert "Telnyx" in reasons["telnyx"] and "generic" in reasons["generic"]


def settings(**twilio: str) -> WorkerSettings:
    return WorkerSettings(
        voxbridge_config_url="http://127.0.0.1:9/api/v1/config",  # type: ignore[arg-type]
        voxcore_secret="s" * 32,  # type: ignore[arg-type]
        max_concurrent_calls=1,
        minio_endpoint="127.0.0.1:9000",
        minio_access_key="a",  # type: ignore[arg-type]
        minio_secret_key="b",  # type: ignore[arg-type]
        minio_bucket="recordings",
        **twilio,  # type: ignore[arg-type]
    )


def test_twilio_settings_come_as_a_pair() -> None:
    sid = "AC" + "3" * 32
    with pytest.raises(ValidationError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN together"):
        settings(twilio_account_sid=sid)
    with pytest.raises(ValidationError, match="twilio_account_sid"):
        settings(twilio_account_sid="not-a-sid", twilio_auth_token="t")
    assert TwilioAccess.from_settings(settings(twilio_account_sid="", twilio_auth_token="")) is None
    access = TwilioAccess.from_settings(
        settings(
            twilio_account_sid=sid,
            twilio_auth_token="t",
            twilio_api_base_url="http://127.0.0.1:8123/",
        )
    )
    assert access == TwilioAccess(sid, "t", "http://127.0.0.1:8123")
    assert (
        access.call_url("CA1") == f"http://127.0.0.1:8123/2010-04-01/Accounts/{sid}/Calls/CA1.json"
    )

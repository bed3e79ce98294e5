"""Twilio's call-update REST API, from the worker's client to the Twilio stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ori_e2e.standins import STANDIN_KEY
from ori_e2e.standins.twilio_rest import STANDIN_ACCOUNT_SID, TwilioRestStandIn
from ori_worker.twilio_calls import TwilioAccess, TwilioCall, TwilioError, dial_twiml

pytestmark = pytest.mark.integration

CALL = "CA" + "a" * 32
TARGET = "+14155550100"


@pytest.fixture
def twilio() -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn() as standin:
        yield standin


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def call(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn, *, token: str = STANDIN_KEY, **kw: float
) -> TwilioCall:
    access = TwilioAccess(STANDIN_ACCOUNT_SID, token, twilio.api_base_url)
    return TwilioCall(http, access, CALL, **kw)  # type: ignore[arg-type]


async def test_a_transfer_updates_the_call_with_dial_twiml_once(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn
) -> None:
    await call(http, twilio).transfer(TARGET)
    assert twilio.updates(CALL) == [{"Twiml": dial_twiml(TARGET)}]
    assert [r["account_sid"] for r in twilio.requests] == [STANDIN_ACCOUNT_SID]


async def test_a_hang_up_completes_the_call_and_a_second_one_is_harmless(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn
) -> None:
    twilio_call = call(http, twilio)
    await twilio_call.hang_up()
    await twilio_call.hang_up()  # Twilio: 21220, the call is not in progress: over already
    assert twilio.updates(CALL) == [{"Status": "completed"}]
    assert [r["answered"] for r in twilio.requests] == [200, 400]
    with pytest.raises(TwilioError, match="21220") as refused:
        await twilio_call.transfer(TARGET)  # too late to transfer a call that is over
    assert refused.value.status == 400


async def test_what_twilio_did_not_act_on_is_retried(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn
) -> None:
    twilio.fail_next(1, 503)
    twilio.fail_next(1, 429)
    await call(http, twilio).transfer(TARGET)
    assert [r["answered"] for r in twilio.requests] == [503, 429, 200]
    assert twilio.updates(CALL) == [{"Twiml": dial_twiml(TARGET)}]


async def test_a_transfer_twilio_may_have_applied_is_not_repeated(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn
) -> None:
    twilio.fail_next(1, 500)
    with pytest.raises(TwilioError) as failed:
        await call(http, twilio).transfer(TARGET)
    assert str(failed.value) == (
        "Twilio answered 500: Internal Server Error "
        "(code 20500, https://www.twilio.com/docs/errors/20500)"
    )
    assert (failed.value.status, failed.value.code) == (500, 20500)
    assert len(twilio.requests) == 1

    twilio.fail_next(1, 500, hang_s=1.0)  # no answer within the client's timeout
    with pytest.raises(TwilioError, match="could not be reached: ReadTimeout"):
        await call(http, twilio, timeout_s=0.3).transfer(TARGET)
    assert len(twilio.requests) == 2 and twilio.updates() == []


async def test_a_hang_up_is_retried_on_5xx_and_timeouts_then_gives_up(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn
) -> None:
    twilio.fail_next(1, 502, hang_s=1.0)
    twilio.fail_next(1, 500)
    await call(http, twilio, timeout_s=0.3).hang_up()
    assert twilio.updates(CALL) == [{"Status": "completed"}]
    assert len(twilio.requests) == 3

    twilio.ended.clear()
    twilio.fail_next(5, 500)
    with pytest.raises(TwilioError, match=r"code 20500.*\(after 3 attempts\)"):
        await call(http, twilio).hang_up()
    assert len(twilio.requests) == 6


async def test_wrong_credentials_are_refused_and_not_retried(
    http: httpx.AsyncClient, twilio: TwilioRestStandIn
) -> None:
    with pytest.raises(TwilioError, match="401: Authenticate \\(code 20003") as refused:
        await call(http, twilio, token="wrong").hang_up()
    assert (refused.value.status, len(twilio.requests), twilio.updates()) == (401, 1, [])


async def test_an_unreachable_twilio_is_an_error_after_the_attempts(
    http: httpx.AsyncClient,
) -> None:
    access = TwilioAccess(STANDIN_ACCOUNT_SID, STANDIN_KEY, "http://127.0.0.1:9")
    with pytest.raises(TwilioError, match="could not be reached: ConnectError.*after 3 attempts"):
        await TwilioCall(http, access, CALL).transfer(TARGET)  # never sent: safe to repeat


async def test_the_standin_refuses_what_twilio_refuses(twilio: TwilioRestStandIn) -> None:
    auth = (STANDIN_ACCOUNT_SID, STANDIN_KEY)
    base = f"{twilio.api_base_url}/2010-04-01/Accounts/{STANDIN_ACCOUNT_SID}/Calls"
    async with httpx.AsyncClient(auth=auth) as client:
        answers = [
            await client.post(f"{base}/nope.json", data={"Status": "completed"}),
            await client.post(f"{base}/{CALL}.json", data={"Twiml": "<Response><Dial>"}),
            await client.post(f"{base}/{CALL}.json", data={"Twiml": "<Hangup/>"}),
            await client.post(f"{base}/{CALL}.json", data={"Status": "ringing"}),
            await client.post(f"{base}/{CALL}.json", data={}),
            await client.post(
                f"{base.replace(STANDIN_ACCOUNT_SID, 'AC' + '0' * 32)}/{CALL}.json",
                data={"Status": "completed"},
            ),
        ]
        ok = await client.post(f"{base}/{CALL}.json", data={"Twiml": "<Response/>"})
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (404, 20404),
        (400, 12100),
        (400, 12100),
        (400, 20001),
        (400, 20001),
        (401, 20003),
    ]
    assert set(answers[0].json()) == {"code", "message", "more_info", "status"}
    resource = ok.json()
    assert (resource["sid"], resource["account_sid"], resource["status"]) == (
        CALL,
        STANDIN_ACCOUNT_SID,
        "in-progress",
    )
    assert resource["uri"] == f"/2010-04-01/Accounts/{STANDIN_ACCOUNT_SID}/Calls/{CALL}.json"

"""Inbound Twilio calls: the voice webhook is checked, recorded, and answered with TwiML.

The path that finds an idle worker, with a real worker behind the real call router, is in
`e2e/tests/test_inbound_twilio.py`; here the backend alone, on real FerretDB and Redis.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from ori_backend.services.inbound import BUSY_MESSAGE, stream_twiml, twilio_signature
from ori_backend.settings import BackendSettings
from ori_e2e.backend import BotSpecFactory, Signup

pytestmark = pytest.mark.integration

TOKEN = "twilio-auth-token-for-tests"
LK_KEY, LK_SECRET = "APItests", "livekit-secret-for-tests-0123456789"
FORM = {"CallSid": "CA0123456789abcdef", "From": "+14155550100", "To": "+14155550199"}


def test_the_signature_is_twilio_s_documented_example() -> None:
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_stream_parameters_are_escaped_as_xml_attributes() -> None:
    twiml = stream_twiml("wss://r/w/10.0.0.1/8000/twilio/b?x=1&y=2", {"token": 'a"<b>&'})
    stream = ElementTree.fromstring(twiml).find("Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://r/w/10.0.0.1/8000/twilio/b?x=1&y=2"
    assert [(p.get("name"), p.get("value")) for p in stream] == [("token", 'a"<b>&')]


@pytest.fixture
def settings(settings: BackendSettings) -> BackendSettings:
    return settings.model_copy(update={"twilio_auth_token": SecretStr(TOKEN)})


async def post_call(
    client: httpx.AsyncClient, bot_id: str, *, token: str = TOKEN, form: dict[str, str] = FORM
) -> httpx.Response:
    url = f"http://backend/api/v1/inbound/twilio/{bot_id}"
    signature = twilio_signature(token, url, list(form.items()))
    headers = {"X-Twilio-Signature": signature}
    content = urlencode(form)
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return await client.post(url, content=content, headers={**headers, **form_type})


async def test_with_no_worker_idle_the_caller_hears_busy_and_the_call_is_recorded_once(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    bot = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    bot_id = bot.json()["id"]
    answer = await post_call(client, bot_id)
    assert (answer.status_code, answer.headers["content-type"]) == (200, "application/xml")
    twiml = ElementTree.fromstring(answer.text)
    assert [(e.tag, e.text) for e in twiml] == [("Say", BUSY_MESSAGE), ("Hangup", None)]
    repeat = await post_call(client, bot_id)  # Twilio delivers the webhook again
    assert (repeat.status_code, repeat.text) == (200, answer.text)
    (call,) = (await client.get("/api/v1/calls", headers=account.headers)).json()["data"]
    assert (call["status"], call["direction"], call["from_number"], call["bot_id"]) == (
        "not_placed",
        "inbound",
        "+14155550100",
        bot_id,
    )


async def test_a_webhook_twilio_did_not_sign_is_refused_and_records_nothing(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    bot_id = (await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)).json()[
        "id"
    ]
    forged = await post_call(client, bot_id, token="someone-else-s-token")
    assert forged.status_code == 403
    url = f"/api/v1/inbound/twilio/{bot_id}"
    unsigned = await client.post(url, data=FORM)
    assert unsigned.status_code == 403
    huge = await client.post(url, content=b"x" * (65 * 1024), headers={"X-Twilio-Signature": "a"})
    assert huge.status_code == 413
    assert (await client.get("/api/v1/calls", headers=account.headers)).json()["data"] == []
    assert (await post_call(client, "bot_nobody")).status_code == 404


async def test_without_a_twilio_auth_token_inbound_calls_are_unavailable(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"twilio_auth_token": None})
    answer = await post_call(client, "bot_any")
    assert answer.status_code == 503
    assert "TWILIO_AUTH_TOKEN" in answer.json()["message"]


def livekit_webhook(event: dict[str, object], *, secret: str = LK_SECRET) -> tuple[bytes, str]:
    """A webhook as livekit-server signs it: a JWT whose `sha256` claim is the body's digest."""
    body = json.dumps(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    claims = {"iss": LK_KEY, "sha256": digest, "exp": int(time.time()) + 300}
    return body, jwt.encode(claims, secret, algorithm="HS256")


def sip_joined(bot_id: str) -> dict[str, object]:
    participant = {
        "sid": "PA_caller1",
        "identity": "sip_+14155550100",
        "kind": "SIP",
        "attributes": {"ori.bot_id": bot_id, "sip.phoneNumber": "+14155550100"},
    }
    return {"event": "participant_joined", "room": {"name": "did-1"}, "participant": participant}


async def test_livekit_webhooks_are_verified_filtered_and_wait_for_a_free_worker(
    client: httpx.AsyncClient, app: FastAPI, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"livekit_api_key": LK_KEY, "livekit_api_secret": SecretStr(LK_SECRET)}
    )
    account = await signup()
    bot_id = (await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)).json()[
        "id"
    ]
    url = "/api/v1/inbound/livekit"

    async def send(webhook: tuple[bytes, str]) -> httpx.Response:
        body, token = webhook
        return await client.post(url, content=body, headers={"Authorization": token})

    not_livekit = "not-livekit-s-secret-0123456789abcdef"
    forged = await send(livekit_webhook(sip_joined(bot_id), secret=not_livekit))
    assert forged.status_code == 401
    body, token = livekit_webhook(sip_joined(bot_id))
    tampered = await send((body.replace(b"did-1", b"did-2"), token))
    assert tampered.status_code == 401
    other = await send(livekit_webhook({"event": "room_started", "room": {"name": "did-1"}}))
    assert (other.status_code, other.json()) == (
        200,
        {"ignored": "event room_started starts no call"},
    )

    busy = await send((body, token))  # no worker registered: nobody to take it
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    again = await send((body, token))  # LiveKit's retry is tried again, not ignored
    assert again.status_code == 503
    calls = (await client.get("/api/v1/calls", headers=account.headers)).json()["data"]
    assert [(c["status"], c["direction"], c["from_number"]) for c in calls] == [
        ("not_placed", "inbound", "+14155550100")
    ] * 2

"""Carriers' webhooks for inbound calls (`services.inbound`): signed by the carrier, no login."""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from ori_backend.api.deps import DbDep, RedisDep, SettingsDep
from ori_backend.api.responses import errors
from ori_backend.errors import Forbidden, PayloadTooLarge, ServiceUnavailable, Unauthorized
from ori_backend.services import inbound, livekit_inbound
from ori_contracts.ids import ID_PATTERN

router = APIRouter(prefix="/inbound", tags=["inbound"])

TWIML = "application/xml"
MAX_WEBHOOK_BYTES: Final = 64 * 1024
"""A carrier's webhook is a few hundred bytes of form fields; nothing bigger is read."""


async def _body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes")
    return bytes(body)


@router.post(
    "/twilio/{bot_id}",
    summary="Twilio voice webhook: answer an inbound call with a bot",
    response_class=Response,
    responses={
        200: {"content": {TWIML: {}}, "description": "TwiML: stream to a worker, or busy."},
        **errors(403, 404, 413, 503),
    },
)
async def twilio_voice(
    bot_id: Annotated[str, Path(pattern=ID_PATTERN)],
    request: Request,
    db: DbDep,
    redis: RedisDep,
    settings: SettingsDep,
    signature: Annotated[str, Header(alias="X-Twilio-Signature")] = "",
) -> Response:
    """Set as a Twilio number's voice webhook (POST): the call gets a worker and the bot.

    403 unless signed with `TWILIO_AUTH_TOKEN` for this URL (`PUBLIC_URL` behind a proxy),
    503 without `TWILIO_AUTH_TOKEN`, 404 for an unknown bot. With every worker busy the
    answer is still TwiML: the caller is told so and the call ends.
    """
    if settings.twilio_auth_token is None:
        raise ServiceUnavailable("inbound Twilio calls need TWILIO_AUTH_TOKEN")
    params = parse_qsl((await _body(request)).decode(errors="replace"), keep_blank_values=True)
    url = str(request.url)
    if settings.public_url:
        url = settings.public_url.rstrip("/") + request.url.path
        url += f"?{request.url.query}" if request.url.query else ""
    token = settings.twilio_auth_token.get_secret_value()
    if not signature or not inbound.signed_by_twilio(token, url, params, signature):
        raise Forbidden("not a request Twilio signed for this URL")
    twiml = await inbound.answer_twilio_call(db, redis, settings, bot_id, params)
    return Response(content=twiml, media_type=TWIML)


@router.post(
    "/livekit",
    summary="LiveKit webhook: a SIP caller joined a room",
    response_model=None,
    status_code=202,
    responses={
        200: {"description": "An event that starts no call, acknowledged."},
        **errors(404, 413, 502, 503),
    },  # fmt: skip
)
async def livekit_webhook(
    request: Request,
    db: DbDep,
    redis: RedisDep,
    settings: SettingsDep,
    authorization: Annotated[str, Header()] = "",
) -> dict[str, Any] | JSONResponse:
    """Set as LiveKit's webhook URL: each SIP caller gets a claimed worker's bot.

    401 unless LiveKit signed it (`LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`; 503 without them).
    Events other than a SIP caller joining answer 200 with why they start nothing; a repeat
    for the same caller too. 503 when no worker is idle, 502 when the claimed one refused.
    """
    if settings.livekit_api_key is None or settings.livekit_api_secret is None:
        raise ServiceUnavailable("LiveKit webhooks need LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
    body = await _body(request)
    secret = settings.livekit_api_secret.get_secret_value()
    try:
        event = livekit_inbound.verified_event(
            body, authorization, settings.livekit_api_key, secret
        )
    except livekit_inbound.InvalidWebhook as exc:
        raise Unauthorized(f"not a webhook this LiveKit signed: {exc}") from exc
    caller = livekit_inbound.sip_caller(event)
    if isinstance(caller, str):
        return JSONResponse({"ignored": caller})
    answer = await livekit_inbound.dispatch_sip_call(
        db, redis, settings, caller, (body, authorization)
    )
    return JSONResponse(answer) if "ignored" in answer else answer

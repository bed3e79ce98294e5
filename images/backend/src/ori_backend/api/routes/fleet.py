"""The worker's endpoints (`ori_contracts.wire`): runtime config in, call result out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ori_backend import security
from ori_backend.api.deps import DbDep, FleetDep, RedisDep, SettingsDep
from ori_backend.api.responses import errors
from ori_backend.schemas.calls import CallIngested
from ori_backend.services import call_results, runtime_config
from ori_contracts import redis_keys
from ori_contracts.call_result import CallResult
from ori_contracts.runtime_config import RuntimeConfig
from ori_contracts.wire import CALL_TOKEN_HEADER, ConfigRequest

router = APIRouter(tags=["fleet"])


@router.post(
    "/config",
    summary="A call's runtime config (worker)",
    response_class=Response,
    responses={
        200: {
            "model": RuntimeConfig,
            "description": f"The config; header `{CALL_TOKEN_HEADER}` carries a per-call token.",
        },
        **errors(403, 404),
    },
)
async def read_config(
    body: ConfigRequest, db: DbDep, redis: RedisDep, settings: SettingsDep, caller: FleetDep
) -> Response:
    """Answer the `RuntimeConfig` of `call_id`, building and caching it on the first request.

    Authenticated by the fleet secret (`VOXCORE_SECRET`) or a per-call token. A repeated
    request for the same call answers the same config.
    """
    caller.check_call(body.call_id)
    data = await runtime_config.runtime_config(db, redis, body)
    token = security.issue_call_token(
        body.call_id,
        secret=settings.jwt_secret.get_secret_value(),
        ttl_s=redis_keys.RUNTIME_CONFIG_TTL_S * 2,
    )
    return Response(data, media_type="application/json", headers={CALL_TOKEN_HEADER: token})


@router.post("/call-results", summary="Deliver a call's result (worker)", responses=errors(403))
async def ingest_call_result(
    body: CallResult, db: DbDep, caller: FleetDep, request: Request
) -> CallIngested:
    """Store a `CallResult`, exactly once per call id; a repeat answers 200 with `stored: false`.

    A result that fails validation answers 422 and will never be accepted.
    """
    caller.check_call(body.call_id)
    stored = await call_results.ingest(db, body)
    if stored:
        request.app.state.deliveries.wake()
    return CallIngested(call_id=body.call_id, stored=stored)

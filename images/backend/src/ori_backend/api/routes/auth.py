"""Sign-up, login and the current account."""

from __future__ import annotations

from fastapi import APIRouter, status

from ori_backend.api.deps import CurrentUser, DbDep, RedisDep, SettingsDep
from ori_backend.api.responses import errors
from ori_backend.errors import Forbidden
from ori_backend.schemas.auth import LoginRequest, SignupRequest, TokenPublic, UserPublic, public
from ori_backend.services import identity

router = APIRouter(prefix="/auth", tags=["auth"])


def _token(settings: SettingsDep, token: str) -> TokenPublic:
    return TokenPublic(access_token=token, expires_in=settings.jwt_expire_minutes * 60)


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account and its own workspace",
    responses=errors(403, 409),
)
async def signup(
    body: SignupRequest, db: DbDep, redis: RedisDep, settings: SettingsDep
) -> TokenPublic:
    """Create an account; it becomes admin of a new workspace. Answers a session token."""
    if not settings.signup_enabled:
        raise Forbidden("sign-up is disabled here; ask an admin to add you")
    user = await identity.create_user(db, email=body.email, password=body.password, name=body.name)
    await identity.create_workspace_for(db, user["_id"], body.workspace_name or body.name)
    return _token(settings, await identity.login(db, redis, settings, body.email, body.password))


@router.post("/login", summary="Log in with e-mail and password", responses=errors(429))
async def login(
    body: LoginRequest, db: DbDep, redis: RedisDep, settings: SettingsDep
) -> TokenPublic:
    """Answer a session token. Repeated failures for one e-mail are throttled (429)."""
    token = await identity.login(db, redis, settings, body.email, body.password)
    return _token(settings, token)


@router.get("/me", summary="The current account", responses=errors(403))
async def me(user: CurrentUser) -> UserPublic:
    """The account of the session token."""
    return UserPublic.model_validate(public(user))

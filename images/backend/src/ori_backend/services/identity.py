"""Accounts, sessions, workspaces, members and API keys; who a bearer token is.

First account: ``POST /api/v1/auth/signup`` (when ``SIGNUP_ENABLED``) creates a user and a
workspace of their own with them as admin; ``ori-backend create-superuser`` creates a platform
administrator from the command line. Failed logins are counted per e-mail in Redis
(``redis_keys.login_failures``); after ``LOGIN_MAX_FAILURES`` the identity is refused until
the counter expires (``LOGIN_FAILURES_TTL_S``), even with the right password.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from ori_backend import security
from ori_backend.db import Db
from ori_backend.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from ori_backend.repositories import identity as repo
from ori_backend.schemas.auth import WorkspaceSettings
from ori_backend.schemas.common import Principal, Role
from ori_backend.settings import BackendSettings
from ori_contracts import redis_keys

__all__ = [
    "add_member",
    "authenticate",
    "change_member_role",
    "create_api_key",
    "create_user",
    "create_workspace_for",
    "login",
    "remove_member",
    "session_user",
]

Doc = dict[str, Any]


async def create_user(
    db: Db, *, email: str, password: str, name: str, superuser: bool = False
) -> Doc:
    """Create an account.

    Raises:
        Conflict: The e-mail is taken.
    """
    doc = {
        "_id": security.new_id("usr"),
        "email": email,
        "name": name,
        "password_hash": security.hash_password(password),
        "superuser": superuser,
    }
    try:
        return await repo.create_user(db, doc)
    except repo.DuplicateKeyError:
        raise Conflict(f"an account with e-mail {email} already exists") from None


async def create_workspace_for(db: Db, user_id: str, name: str) -> Doc:
    """Create a workspace with ``user_id`` as its admin."""
    workspace = await repo.create_workspace(
        db,
        {"_id": security.new_id("ws"), "name": name, "settings": WorkspaceSettings().model_dump()},
    )
    await repo.add_membership(db, workspace["_id"], user_id, Role.ADMIN.value)
    return workspace


async def login(db: Db, redis: Redis, settings: BackendSettings, email: str, password: str) -> str:
    """Check a password and return a session token.

    Raises:
        TooManyRequests: Too many recent failures for this e-mail.
        Unauthorized: Wrong e-mail or password.
    """
    key = redis_keys.login_failures(email)
    failures = int(await redis.get(key) or 0)
    if failures >= settings.login_max_failures:
        retry_after = max(int(await redis.ttl(key)), 1)
        raise TooManyRequests(
            "too many failed logins; try again later",
            headers={"Retry-After": str(retry_after)},
        )
    user = await repo.get_user_by_email(db, email)
    if not security.verify_password(password, user["password_hash"] if user else None):
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, redis_keys.LOGIN_FAILURES_TTL_S, nx=True)
            await pipe.execute()
        raise Unauthorized("wrong e-mail or password")
    assert user is not None
    await redis.delete(key)
    return security.issue_session(
        user["_id"],
        secret=settings.jwt_secret.get_secret_value(),
        algorithm=settings.jwt_algorithm,
        expire_minutes=settings.jwt_expire_minutes,
    )


async def session_user(db: Db, settings: BackendSettings, token: str) -> Doc:
    """The account a session token names.

    Raises:
        Unauthorized: The token is invalid, expired, or its account is gone.
    """
    user_id = security.read_session(
        token, secret=settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm
    )
    user = await repo.get_user(db, user_id) if user_id else None
    if user is None:
        raise Unauthorized("invalid or expired session token")
    return user


async def authenticate(
    db: Db, settings: BackendSettings, token: str, workspace_id: str | None
) -> Principal:
    """The principal behind a bearer token, in the workspace it acts in.

    API keys act in their own workspace. A session acts in ``workspace_id`` (the
    ``X-Workspace-Id`` header) or, without one, in the user's oldest workspace. A superuser may
    act in any workspace, as admin.

    Raises:
        Unauthorized: Unknown, revoked or expired credentials.
        NotFound: The named workspace does not exist or the user is not in it.
    """
    if token.startswith(security.API_KEY_PREFIX):
        return await _api_key_principal(db, token, workspace_id)
    user = await session_user(db, settings, token)
    superuser = bool(user.get("superuser"))
    if workspace_id is None:
        memberships = await repo.list_memberships_of(db, user["_id"])
        if not memberships:
            raise NotFound("you belong to no workspace; create one with POST /api/v1/workspaces")
        workspace_id = str(memberships[0]["workspace_id"])
    membership = await repo.get_membership(db, workspace_id, user["_id"])
    if membership is not None:
        role = Role(membership["role"])
    elif superuser and await repo.get_workspace(db, workspace_id) is not None:
        role = Role.ADMIN
    else:
        raise NotFound(f"workspace {workspace_id} not found")
    return Principal(workspace_id=workspace_id, role=role, user_id=user["_id"], superuser=superuser)


async def _api_key_principal(db: Db, token: str, workspace_id: str | None) -> Principal:
    key = await repo.find_api_key(db, security.hash_api_key(token))
    if key is None:
        raise Unauthorized("unknown API key")
    if key.get("revoked_at") is not None:
        raise Unauthorized("this API key was revoked")
    if workspace_id is not None and workspace_id != key["workspace_id"]:
        raise NotFound(f"workspace {workspace_id} not found")
    await repo.touch_api_key(db, key["_id"])
    return Principal(
        workspace_id=key["workspace_id"],
        role=Role(key["role"]),
        api_key_id=key["_id"],
        manager=key.get("manager"),
    )


async def create_api_key(
    db: Db, principal: Principal, *, name: str, role: Role, manager: str | None
) -> tuple[Doc, str]:
    """Mint a key for the principal's workspace; returns the record and the one-time secret.

    Raises:
        Forbidden: The key would have more rights than its creator.
    """
    if not principal.role.includes(role):
        raise Forbidden(f"a {principal.role} cannot create a key with role {role}")
    minted = security.new_api_key()
    doc = await repo.create_api_key(
        db,
        {
            "_id": minted.key_id,
            "workspace_id": principal.workspace_id,
            "name": name,
            "role": role.value,
            "manager": manager,
            "hash": minted.hash,
            "prefix": minted.secret[:12],
            "created_by": principal.actor,
        },
    )
    return doc, minted.secret


async def add_member(db: Db, workspace_id: str, email: str, role: Role) -> Doc:
    """Add an existing account to a workspace.

    Raises:
        NotFound: No account has that e-mail.
        Conflict: It is already a member.
    """
    user = await repo.get_user_by_email(db, email)
    if user is None:
        raise NotFound(f"no account with e-mail {email}; ask them to sign up first")
    try:
        await repo.add_membership(db, workspace_id, user["_id"], role.value)
    except repo.DuplicateKeyError:
        raise Conflict(f"{email} is already a member") from None
    return {"user_id": user["_id"], "email": user["email"], "name": user["name"], "role": role}


async def change_member_role(db: Db, workspace_id: str, user_id: str, role: Role) -> None:
    """Change a member's role, keeping at least one admin.

    Raises:
        NotFound: Not a member.
        Conflict: It would leave the workspace without an admin.
    """
    membership = await repo.get_membership(db, workspace_id, user_id)
    if membership is None:
        raise NotFound(f"member {user_id} not found")
    if membership["role"] == Role.ADMIN and role != Role.ADMIN:
        await _keep_an_admin(db, workspace_id)
    await repo.set_member_role(db, workspace_id, user_id, role.value)


async def remove_member(db: Db, workspace_id: str, user_id: str) -> None:
    """Remove a member, keeping at least one admin.

    Raises:
        NotFound: Not a member.
        Conflict: It would leave the workspace without an admin.
    """
    membership = await repo.get_membership(db, workspace_id, user_id)
    if membership is None:
        raise NotFound(f"member {user_id} not found")
    if membership["role"] == Role.ADMIN:
        await _keep_an_admin(db, workspace_id)
    await repo.remove_membership(db, workspace_id, user_id)


async def _keep_an_admin(db: Db, workspace_id: str) -> None:
    if await repo.count_admins(db, workspace_id) <= 1:
        raise Conflict("a workspace needs at least one admin")

"""Accounts, sessions, workspaces, members and API keys against real FerretDB and Redis."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fastapi import FastAPI

from ori_backend.settings import BackendSettings
from ori_e2e.backend import Signup

pytestmark = pytest.mark.integration


async def test_signup_login_and_me(client: httpx.AsyncClient, signup: Signup) -> None:
    account = await signup("ada@example.com")
    login = await client.post(
        "/api/v1/auth/login", json={"email": "ADA@example.com", "password": "correct horse battery"}
    )
    assert login.status_code == 200
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["superuser"] is False
    workspace = await client.get("/api/v1/workspace", headers=account.headers)
    assert workspace.json()["role"] == "admin"


async def test_duplicate_signup_is_a_conflict(client: httpx.AsyncClient, signup: Signup) -> None:
    await signup("dup@example.com")
    again = await client.post(
        "/api/v1/auth/signup",
        json={"email": "dup@example.com", "password": "another password", "name": "Dup"},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


async def test_repeated_failed_logins_are_throttled(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    await signup("victim@example.com")
    bad = {"email": "victim@example.com", "password": "wrong-password"}
    codes = [(await client.post("/api/v1/auth/login", json=bad)).status_code for _ in range(5)]
    assert codes == [401] * 5
    good = {"email": "victim@example.com", "password": "correct horse battery"}
    throttled = await client.post("/api/v1/auth/login", json=good)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(
            {"sub": "usr_x", "exp": int(time.time()) + 60, "typ": "session"},
            "forged-key-0123456789abcdef-0123456789",
        ),
        "not-a-jwt",
    ],
)
async def test_forged_or_malformed_jwt_is_401(client: httpx.AsyncClient, token: str) -> None:
    answer = await client.get("/api/v1/bots", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"


async def test_expired_jwt_is_401(
    client: httpx.AsyncClient, signup: Signup, settings: BackendSettings
) -> None:
    account = await signup()
    expired = jwt.encode(
        {"sub": account.user_id, "exp": int(time.time()) - 5, "typ": "session"},
        settings.jwt_secret.get_secret_value(),
    )
    answer = await client.get("/api/v1/bots", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401


async def test_missing_credentials_is_401(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/bots")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_api_key_is_shown_once_stored_hashed_and_revocable(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    account = await signup()
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "member"}, headers=account.headers
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    stored = await app.state.db["api_keys"].find_one({"_id": created.json()["id"]})
    assert secret not in str(stored)
    listed = await client.get("/api/v1/api-keys", headers=account.headers)
    assert "secret" not in listed.json()[0]
    as_key = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/v1/bots", headers=as_key)).status_code == 200
    assert (await client.post("/api/v1/bots", json={}, headers=as_key)).status_code == 403
    revoked = await client.delete(
        f"/api/v1/api-keys/{created.json()['id']}", headers=account.headers
    )
    assert revoked.json()["revoked_at"] is not None
    after = await client.get("/api/v1/bots", headers=as_key)
    assert after.status_code == 401
    assert "revoked" in after.json()["message"]


async def test_members_roles_and_last_admin(client: httpx.AsyncClient, signup: Signup) -> None:
    owner, other = await signup(), await signup()
    added = await client.post(
        "/api/v1/workspace/members",
        json={"email": other.email, "role": "developer"},
        headers=owner.headers,
    )
    assert added.status_code == 201
    as_other = {"Authorization": f"Bearer {other.token}", "X-Workspace-Id": owner.workspace_id}
    workspace = await client.get("/api/v1/workspace", headers=as_other)
    assert workspace.json()["role"] == "developer"
    assert (
        await client.patch("/api/v1/workspace", json={"name": "x"}, headers=as_other)
    ).status_code == 403
    alone = await client.delete(f"/api/v1/workspace/members/{owner.user_id}", headers=owner.headers)
    assert alone.status_code == 409
    removed = await client.delete(
        f"/api/v1/workspace/members/{other.user_id}", headers=owner.headers
    )
    assert removed.status_code == 204
    assert (await client.get("/api/v1/workspace", headers=as_other)).status_code == 404


async def test_workspace_settings_are_updated_by_admins(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    owner = await signup()
    changed = await client.patch(
        "/api/v1/workspace",
        json={"settings": {"timezone": "Asia/Kolkata", "default_country": "IN"}},
        headers=owner.headers,
    )
    assert changed.status_code == 200
    assert changed.json()["settings"]["timezone"] == "Asia/Kolkata"

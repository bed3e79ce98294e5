"""The role-by-endpoint matrix, and cross-workspace isolation over every resource."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ori_e2e.backend import Account, BotSpecFactory, Signup

pytestmark = pytest.mark.integration

ROLES = ("member", "developer", "admin")


async def _world(
    client: httpx.AsyncClient, account: Account, bot_spec: BotSpecFactory
) -> dict[str, str]:
    """One of every resource in the account's workspace."""
    h = account.headers
    kb = (await client.post("/api/v1/knowledge-bases", json={"name": "FAQ"}, headers=h)).json()[
        "id"
    ]
    doc = await client.post(
        f"/api/v1/knowledge-bases/{kb}/documents",
        params={"filename": "a.txt"},
        content=b"hello world",
        headers=h,
    )
    bot = (await client.post("/api/v1/bots", json=bot_spec(), headers=h)).json()["id"]
    campaign = (
        await client.post("/api/v1/campaigns", json={"name": "C", "bot_id": bot}, headers=h)
    ).json()["id"]
    webhook = (
        await client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=h)
    ).json()["id"]
    key = (await client.post("/api/v1/api-keys", json={"name": "k"}, headers=h)).json()["id"]
    return {
        "kb": kb,
        "doc": doc.json()["id"],
        "bot": bot,
        "campaign": campaign,
        "webhook": webhook,
        "key": key,
    }


def _endpoints(
    w: dict[str, str], bot_spec: BotSpecFactory
) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(method, path, lowest role allowed, JSON body)."""
    campaign = {"name": "C2", "bot_id": w["bot"]}
    return [
        ("GET", "/api/v1/workspace", "member", None),
        ("PATCH", "/api/v1/workspace", "admin", {"name": "renamed"}),
        ("GET", "/api/v1/workspace/members", "member", None),
        ("POST", "/api/v1/workspace/members", "admin", {"email": "nobody@example.com"}),
        ("GET", "/api/v1/api-keys", "admin", None),
        ("POST", "/api/v1/api-keys", "admin", {"name": "x", "role": "member"}),
        ("DELETE", f"/api/v1/api-keys/{w['key']}", "admin", None),
        ("GET", "/api/v1/bots", "member", None),
        ("POST", "/api/v1/bots", "developer", bot_spec()),
        ("GET", f"/api/v1/bots/{w['bot']}", "member", None),
        ("PUT", f"/api/v1/bots/{w['bot']}", "developer", bot_spec(name="v2")),
        ("PATCH", f"/api/v1/bots/{w['bot']}", "developer", {"name": "v3"}),
        ("GET", f"/api/v1/bots/{w['bot']}/versions", "member", None),
        ("GET", "/api/v1/campaigns", "member", None),
        ("POST", "/api/v1/campaigns", "developer", campaign),
        ("GET", f"/api/v1/campaigns/{w['campaign']}", "member", None),
        ("PUT", f"/api/v1/campaigns/{w['campaign']}", "developer", campaign),
        ("POST", f"/api/v1/campaigns/{w['campaign']}/state", "developer", {"state": "running"}),
        ("GET", f"/api/v1/campaigns/{w['campaign']}/contacts", "member", None),
        ("GET", "/api/v1/dnc", "member", None),
        ("POST", "/api/v1/dnc", "developer", {"numbers": ["+14155550100"]}),
        ("GET", "/api/v1/calls", "member", None),
        ("POST", "/api/v1/calls", "developer", {"bot_id": w["bot"], "to_number": "+14155550142"}),
        ("GET", "/api/v1/knowledge-bases", "member", None),
        ("POST", "/api/v1/knowledge-bases", "developer", {"name": "x"}),
        ("GET", f"/api/v1/knowledge-bases/{w['kb']}/documents", "member", None),
        ("DELETE", f"/api/v1/knowledge-bases/{w['kb']}/documents/{w['doc']}", "developer", None),
        (
            "POST",
            "/api/v1/knowledge-bases/search",
            "member",
            {"query": "hello", "knowledge_base_ids": [w["kb"]]},
        ),
        ("GET", "/api/v1/webhooks", "member", None),
        ("POST", "/api/v1/webhooks", "developer", {"url": "http://127.0.0.1:9/y"}),
        ("PUT", f"/api/v1/webhooks/{w['webhook']}", "developer", {"url": "http://127.0.0.1:9/z"}),
        ("GET", "/api/v1/webhook-deliveries", "member", None),
    ]


async def test_role_by_endpoint_matrix(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    owner = await signup()
    world = await _world(client, owner, bot_spec)
    keys = {}
    for role in ROLES:
        made = await client.post(
            "/api/v1/api-keys", json={"name": role, "role": role}, headers=owner.headers
        )
        keys[role] = {"Authorization": f"Bearer {made.json()['secret']}"}
    failures = []
    for method, path, lowest, body in _endpoints(world, bot_spec):
        for role in ROLES:
            answer = await client.request(method, path, json=body, headers=keys[role])
            allowed = ROLES.index(role) >= ROLES.index(lowest)
            if allowed == (answer.status_code == 403) or answer.status_code in (500, 502, 504):
                failures.append(f"{role} {method} {path}: {answer.status_code} {answer.text[:120]}")
    assert failures == []


async def test_another_workspaces_records_answer_404(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    owner, stranger = await signup(), await signup()
    w = await _world(client, owner, bot_spec)
    probes = [
        ("GET", f"/api/v1/bots/{w['bot']}", None),
        ("PUT", f"/api/v1/bots/{w['bot']}", bot_spec()),
        ("PATCH", f"/api/v1/bots/{w['bot']}", {"name": "x"}),
        ("DELETE", f"/api/v1/bots/{w['bot']}", None),
        ("GET", f"/api/v1/bots/{w['bot']}/versions", None),
        ("GET", f"/api/v1/bots/{w['bot']}/versions/1", None),
        ("GET", f"/api/v1/campaigns/{w['campaign']}", None),
        ("PUT", f"/api/v1/campaigns/{w['campaign']}", {"name": "x", "bot_id": w["bot"]}),
        ("POST", f"/api/v1/campaigns/{w['campaign']}/state", {"state": "running"}),
        ("GET", f"/api/v1/campaigns/{w['campaign']}/contacts", None),
        ("DELETE", f"/api/v1/campaigns/{w['campaign']}", None),
        ("GET", f"/api/v1/knowledge-bases/{w['kb']}", None),
        ("GET", f"/api/v1/knowledge-bases/{w['kb']}/documents", None),
        ("GET", f"/api/v1/knowledge-bases/{w['kb']}/documents/{w['doc']}", None),
        ("DELETE", f"/api/v1/knowledge-bases/{w['kb']}", None),
        (
            "POST",
            "/api/v1/knowledge-bases/search",
            {"query": "hello", "knowledge_base_ids": [w["kb"]]},
        ),
        ("PUT", f"/api/v1/webhooks/{w['webhook']}", {"url": "http://127.0.0.1:9/z"}),
        ("DELETE", f"/api/v1/webhooks/{w['webhook']}", None),
        ("DELETE", f"/api/v1/api-keys/{w['key']}", None),
        ("POST", "/api/v1/campaigns", {"name": "x", "bot_id": w["bot"]}),
        ("POST", "/api/v1/calls", {"bot_id": w["bot"], "to_number": "+14155550142"}),
    ]
    leaks = []
    for method, path, body in probes:
        answer = await client.request(method, path, json=body, headers=stranger.headers)
        if answer.status_code not in (404, 422) or "Front desk" in answer.text:
            leaks.append(f"{method} {path}: {answer.status_code} {answer.text[:100]}")
    assert leaks == []
    foreign = {**stranger.headers, "X-Workspace-Id": owner.workspace_id}
    assert (await client.get("/api/v1/bots", headers=foreign)).status_code == 404
    for kind in ("bots", "campaigns", "knowledge-bases", "webhooks", "calls"):
        listed = (await client.get(f"/api/v1/{kind}", headers=stranger.headers)).json()
        assert (listed["data"] if isinstance(listed, dict) else listed) == [], kind
    still = await client.get(f"/api/v1/bots/{w['bot']}", headers=owner.headers)
    assert still.status_code == 200

"""Bots: validation, immutable versions, and read-only bots managed from Kubernetes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ori_e2e.backend import BotSpecFactory, Signup

pytestmark = pytest.mark.integration


async def test_create_update_versions(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    created = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["version"] == 1
    assert bot["read_only"] is False
    same = await client.put(f"/api/v1/bots/{bot['id']}", json=bot_spec(), headers=account.headers)
    assert same.json()["version"] == 1
    changed = await client.put(
        f"/api/v1/bots/{bot['id']}", json=bot_spec(name="Renamed"), headers=account.headers
    )
    assert changed.json()["version"] == 2
    versions = await client.get(f"/api/v1/bots/{bot['id']}/versions", headers=account.headers)
    assert [v["version"] for v in versions.json()] == [2, 1]
    first = await client.get(f"/api/v1/bots/{bot['id']}/versions/1", headers=account.headers)
    assert first.json()["spec"]["name"] == "Front desk"
    deleted = await client.delete(f"/api/v1/bots/{bot['id']}", headers=account.headers)
    assert deleted.status_code == 204
    assert (
        await client.get(f"/api/v1/bots/{bot['id']}", headers=account.headers)
    ).status_code == 404
    still = await client.get(f"/api/v1/bots/{bot['id']}/versions/2", headers=account.headers)
    assert still.status_code == 200


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"stt": {"provider": "acme-stt"}}, "stt.provider"),
        ({"default_disposition": "unknown"}, "default_disposition"),
        ({"knowledge_base_ids": ["kb-missing"]}, "kb-missing"),
        (
            {
                "tools": [
                    {
                        "type": "http",
                        "name": "t",
                        "description": "d",
                        "url": "https://x.example",
                        "headers": {"Authorization": "Bearer inline"},
                    }
                ]
            },
            "SecretRef",
        ),
    ],
)
async def test_invalid_bots_are_422_and_not_stored(
    client: httpx.AsyncClient,
    signup: Signup,
    bot_spec: BotSpecFactory,
    change: dict[str, Any],
    needle: str,
) -> None:
    account = await signup()
    answer = await client.post("/api/v1/bots", json=bot_spec(**change), headers=account.headers)
    assert answer.status_code == 422, answer.text
    assert needle in answer.text
    listed = await client.get("/api/v1/bots", headers=account.headers)
    assert listed.json()["data"] == []


async def test_invalid_json_is_422(client: httpx.AsyncClient, signup: Signup) -> None:
    account = await signup()
    answer = await client.post(
        "/api/v1/bots",
        content=b"{not json",
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"


async def test_operator_upsert_by_ref_is_idempotent_and_read_only(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "operator", "role": "developer", "manager": "kubernetes"},
        headers=account.headers,
    )
    operator = {"Authorization": f"Bearer {key.json()['secret']}"}
    first = await client.put(
        "/api/v1/bots/by-ref/default.front-desk", json=bot_spec(), headers=operator
    )
    assert first.status_code == 201
    assert first.json()["created"] is True
    again = await client.put(
        "/api/v1/bots/by-ref/default.front-desk", json=bot_spec(), headers=operator
    )
    assert again.status_code == 200
    assert again.json() == {**first.json(), "created": False, "changed": False}
    edited = await client.put(
        "/api/v1/bots/by-ref/default.front-desk", json=bot_spec(name="v2"), headers=operator
    )
    assert edited.json()["version"] == 2
    bot_id = first.json()["id"]
    bot = await client.get(f"/api/v1/bots/{bot_id}", headers=account.headers)
    assert bot.json()["read_only"] is True
    assert bot.json()["external_ref"] == "default.front-desk"
    refused = await client.put(f"/api/v1/bots/{bot_id}", json=bot_spec(), headers=account.headers)
    assert refused.status_code == 403
    assert "Kubernetes" in refused.json()["message"]
    by_person = await client.put(
        "/api/v1/bots/by-ref/default.other", json=bot_spec(), headers=account.headers
    )
    assert by_person.status_code == 403
    gone = await client.delete("/api/v1/bots/by-ref/default.front-desk", headers=operator)
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/bots/{bot_id}", headers=account.headers)).status_code == 404
    recreated = await client.put(
        "/api/v1/bots/by-ref/default.front-desk", json=bot_spec(), headers=operator
    )
    assert recreated.json()["id"] == bot_id
    assert recreated.json()["version"] == 3


MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


async def test_patch_is_a_json_merge_patch_making_a_new_version(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    headers = {**account.headers, **MERGE_PATCH}
    created = await client.post(
        "/api/v1/bots", json=bot_spec(description="Books visits"), headers=account.headers
    )
    bot = created.json()
    url = f"/api/v1/bots/{bot['id']}"
    change = {"persona": {"greeting": "Hello, Acme Dental."}, "description": None}
    patched = await client.patch(url, json=change, headers=headers)
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["version"] == 2
    assert after["spec"]["persona"]["greeting"] == "Hello, Acme Dental."
    assert after["spec"]["persona"]["system_prompt"] == bot["spec"]["persona"]["system_prompt"]
    assert after["spec"]["description"] == ""  # null: back to the default
    assert {k: v for k, v in after["spec"].items() if k not in ("persona", "description")} == {
        k: v for k, v in bot["spec"].items() if k not in ("persona", "description")
    }
    same = await client.patch(url, json={"name": "Front desk"}, headers=headers)
    assert same.json()["version"] == 2  # nothing changed: no new version
    as_json = await client.patch(url, json={"name": "Renamed"}, headers=account.headers)
    assert as_json.status_code == 200, as_json.text
    assert (as_json.json()["version"], as_json.json()["spec"]["name"]) == (3, "Renamed")
    versions = await client.get(f"{url}/versions", headers=account.headers)
    assert [v["version"] for v in versions.json()] == [3, 2, 1]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"stt": {"provider": "acme-stt"}}, "stt.provider"),
        ({"persona": None}, "persona"),
        ({"limits": {"max_duration_s": -5}}, "limits.max_duration_s"),
        ({"tools": []}, "unknown tool"),  # the scripted LLM's rules name a tool
    ],
)
async def test_an_invalid_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    signup: Signup,
    bot_spec: BotSpecFactory,
    change: dict[str, Any],
    needle: str,
) -> None:
    account = await signup()
    bot = (await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)).json()
    url = f"/api/v1/bots/{bot['id']}"
    answer = await client.patch(url, json=change, headers={**account.headers, **MERGE_PATCH})
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["message"]
    assert answer.json()["details"][0]["loc"][0] == "body"
    assert (await client.get(url, headers=account.headers)).json()["version"] == 1
    not_an_object = await client.patch(url, json=["x"], headers=account.headers)
    assert not_an_object.status_code == 422


async def test_patch_refuses_kubernetes_bots_and_other_workspaces(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account, stranger = await signup(), await signup()
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "operator", "role": "developer", "manager": "kubernetes"},
        headers=account.headers,
    )
    operator = {"Authorization": f"Bearer {key.json()['secret']}"}
    synced = await client.put(
        "/api/v1/bots/by-ref/default.front-desk", json=bot_spec(), headers=operator
    )
    url = f"/api/v1/bots/{synced.json()['id']}"
    refused = await client.patch(url, json={"name": "x"}, headers=account.headers)
    assert refused.status_code == 403
    assert "Kubernetes" in refused.json()["message"]
    hidden = await client.patch(url, json={"name": "x"}, headers=stranger.headers)
    assert hidden.status_code == 404


async def test_a_value_the_store_cannot_hold_is_422_and_stores_nothing(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    spec = bot_spec()
    spec["stt"]["options"] = {"matrix": [[1, 2], [3, 4]]}  # FerretDB holds no nested arrays
    answer = await client.post("/api/v1/bots", json=spec, headers=account.headers)
    assert answer.status_code == 422, answer.text
    assert "cannot be stored" in answer.json()["message"]
    assert (await client.get("/api/v1/bots", headers=account.headers)).json()["data"] == []

"""Campaigns managed from Kubernetes: the operator's idempotent upsert by reference, read-only
for everyone else, and contact imports repeatable by `Idempotency-Key`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ori_backend.services import contact_import
from ori_e2e.backend import Account, BotSpecFactory, Signup

pytestmark = pytest.mark.integration


CSV = {"Content-Type": "text/csv"}
REF = "/api/v1/campaigns/by-ref/default.spring-recall"


async def _operator(
    client: httpx.AsyncClient, account: Account, bot_spec: BotSpecFactory
) -> tuple[dict[str, Any], str]:
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "operator", "role": "developer", "manager": "kubernetes"},
        headers=account.headers,
    )
    operator = {"Authorization": f"Bearer {key.json()['secret']}"}
    bot = await client.put(
        "/api/v1/bots/by-ref/default.front-desk", json=bot_spec(), headers=operator
    )
    return operator, bot.json()["id"]


async def test_upsert_by_ref_is_idempotent_and_creates_one_campaign(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    spec = {"name": "Spring recall", "bot_id": bot_id, "fleet_pool": "default"}
    first = await client.put(REF, json=spec, headers=operator)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    assert first.json()["state"] == "draft"
    again = await client.put(REF, json=spec, headers=operator)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "created": False, "changed": False}
    edited = await client.put(REF, json={**spec, "name": "Renamed"}, headers=operator)
    assert (edited.json()["id"], edited.json()["changed"]) == (first.json()["id"], True)
    listed = await client.get("/api/v1/campaigns", headers=account.headers)
    assert [(c["id"], c["name"]) for c in listed.json()] == [(first.json()["id"], "Renamed")]
    read = await client.get(f"/api/v1/campaigns/{first.json()['id']}", headers=account.headers)
    assert (read.json()["managed_by"], read.json()["read_only"]) == ("kubernetes", True)
    assert read.json()["external_ref"] == "default.spring-recall"
    missing_bot = await client.put(REF, json={**spec, "bot_id": "bot_nope"}, headers=operator)
    assert missing_bot.status_code == 422


async def test_a_managed_campaign_is_read_only_for_everyone_else(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    spec = {"name": "Spring recall", "bot_id": bot_id}
    campaign_id = (await client.put(REF, json=spec, headers=operator)).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}"
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", url, {"json": spec}),
        ("POST", f"{url}/state", {"json": {"state": "running"}}),
        ("POST", f"{url}/contacts", {"content": b"phone\n+14155550101\n", "headers": CSV}),
        ("DELETE", url, {}),
        ("PUT", REF, {"json": spec}),
        ("DELETE", REF, {}),
    ]
    for method, path, kwargs in writes:
        headers = {**account.headers, **kwargs.pop("headers", {})}
        answer = await client.request(method, path, headers=headers, **kwargs)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "Kubernetes" in answer.json()["message"] or "manager" in answer.json()["message"]
    started = await client.post(f"{url}/state", json={"state": "running"}, headers=operator)
    assert started.json()["state"] == "running"
    assert (await client.get(url, headers=account.headers)).json()["progress"]["total"] == 0


async def test_a_keyed_import_repeats_as_its_first_answer(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    campaign_id = (
        await client.put(REF, json={"name": "C", "bot_id": bot_id}, headers=operator)
    ).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    body = b"phone,name\n+14155550101,Ann\n+14155550102,Bo\n"
    keyed = {**operator, **CSV, "Idempotency-Key": "sha256-abc123"}
    first = await client.post(url, content=body, headers=keyed)
    assert first.status_code == 201, first.text
    assert (first.json()["imported"], first.json()["replayed"]) == (2, False)
    again = await client.post(url, content=body, headers=keyed)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    unkeyed = await client.post(url, content=body, headers={**operator, **CSV})
    assert unkeyed.status_code == 422  # without the key it is a second import of the same numbers
    read = await client.get(f"/api/v1/campaigns/{campaign_id}", headers=account.headers)
    assert read.json()["progress"]["total"] == 2
    bad_key = await client.post(url, content=body, headers={**keyed, "Idempotency-Key": "a b"})
    assert bad_key.status_code == 422


async def test_an_import_cut_off_while_publishing_is_rolled_back_never_left_half_in(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory, app: FastAPI
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    campaign_id = (
        await client.put(REF, json={"name": "C", "bot_id": bot_id}, headers=operator)
    ).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    body = b"phone\n+14155550101\n+14155550102\n+14155550103\n"
    keyed = {**operator, **CSV, "Idempotency-Key": "k1"}
    first = await client.post(url, content=body, headers=keyed)
    assert first.status_code == 201
    db = app.state.db  # as if the process died after publishing one of the three contacts
    await db["campaign_contacts"].delete_many({"phone": {"$ne": "+14155550101"}})
    await db["contact_imports"].update_many({}, {"$set": {"committed": False}})
    busy = await client.post(url, content=body, headers=keyed)
    assert busy.status_code == 409  # within the hour: it may still be publishing
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1, minutes=1)
    await db["contact_imports"].update_many({}, {"$set": {"created_at": an_hour_ago}})
    anew = await client.post(url, content=body, headers=keyed)
    assert (anew.status_code, anew.json()["replayed"], anew.json()["imported"]) == (201, False, 3)
    read = await client.get(f"/api/v1/campaigns/{campaign_id}", headers=account.headers)
    assert read.json()["progress"]["total"] == 3

    await db["contact_imports"].update_many(  # and once more, now cleaned up at start-up
        {}, {"$set": {"committed": False, "created_at": an_hour_ago}}
    )
    assert await contact_import.roll_back_stale(db) == 1
    read = await client.get(f"/api/v1/campaigns/{campaign_id}", headers=account.headers)
    assert read.json()["progress"]["total"] == 0
    assert await db["contact_imports"].count_documents({}) == 0


async def test_delete_by_ref_stops_deletes_and_a_new_upsert_starts_afresh(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    spec = {"name": "C", "bot_id": bot_id}
    campaign_id = (await client.put(REF, json=spec, headers=operator)).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}"
    await client.post(f"{url}/contacts", content=b"phone\n+14155550101\n",
                      headers={**operator, **CSV, "Idempotency-Key": "k"})  # fmt: skip
    await client.post(f"{url}/state", json={"state": "running"}, headers=operator)
    gone = await client.delete(REF, headers=operator)
    assert gone.status_code == 204
    assert (await client.get(url, headers=account.headers)).status_code == 404
    assert (await client.delete(REF, headers=operator)).status_code == 204
    again = await client.put(REF, json=spec, headers=operator)
    assert (again.status_code, again.json()["id"], again.json()["state"]) == (
        201,
        campaign_id,
        "draft",
    )
    fresh = await client.post(f"{url}/contacts", content=b"phone\n+14155550101\n",
                              headers={**operator, **CSV, "Idempotency-Key": "k"})  # fmt: skip
    assert (fresh.status_code, fresh.json()["replayed"]) == (201, False)


async def test_a_whole_list_sent_again_with_existing_skip_adds_only_its_new_rows(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    campaign_id = (
        await client.put(REF, json={"name": "C", "bot_id": bot_id}, headers=operator)
    ).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    first = b"phone,name\n+14155550101,Ann\n+14155550102,Bo\n"
    await client.post(url, content=first, headers={**operator, **CSV, "Idempotency-Key": "v1"})
    dnc = await client.post(  # someone already in the campaign asks not to be called
        "/api/v1/dnc", json={"numbers": ["+14155550102"]}, headers=account.headers
    )
    assert dnc.status_code in (200, 201), dnc.text
    edited = first + b"+14155550103,Cy\n"
    refused = await client.post(url, content=edited, headers={**operator, **CSV})
    assert refused.status_code == 422  # by default a contact already in is an error
    assert refused.json()["message"] == "2 invalid row(s); nothing was imported"
    assert [d["row"] for d in refused.json()["details"]] == [1, 2]

    keyed = {**operator, **CSV, "Idempotency-Key": "v2"}
    added = await client.post(url, params={"existing": "skip"}, content=edited, headers=keyed)
    assert added.status_code == 201, added.text
    assert (added.json()["imported"], added.json()["skipped"]) == (1, 2)
    replay = await client.post(url, params={"existing": "skip"}, content=edited, headers=keyed)
    assert replay.json() == {**added.json(), "replayed": True}
    again = await client.post(url, params={"existing": "skip"}, content=edited,
                              headers={**keyed, "Idempotency-Key": "v3"})  # fmt: skip
    assert (again.status_code, again.json()["imported"], again.json()["skipped"]) == (201, 0, 3)
    contacts = await client.get(url, headers=account.headers)
    assert sorted(c["name"] for c in contacts.json()["data"]) == ["Ann", "Bo", "Cy"]

    in_file_twice = edited + b"+14155550104,Di\n+14155550104,Di again\n"
    bad = await client.post(url, params={"existing": "skip"}, content=in_file_twice,
                            headers={**operator, **CSV})  # fmt: skip
    assert bad.status_code == 422  # duplicates within the file are still refused
    assert bad.json()["details"] == [
        {"row": 5, "column": "phone", "message": "+14155550104 appears earlier in the file"}
    ]


async def test_a_list_synced_again_withdraws_the_pending_contacts_it_no_longer_has(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory, app: FastAPI
) -> None:
    account = await signup()
    operator, bot_id = await _operator(client, account, bot_spec)
    campaign_id = (
        await client.put(REF, json={"name": "C", "bot_id": bot_id}, headers=operator)
    ).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    first = b"id,phone,name\na,+14155550101,Ann\nb,+14155550102,Bo\nc,+14155550103,Cy\n"
    keyed = {**operator, **CSV, "Idempotency-Key": "s1"}
    made = await client.post(url, params={"existing": "sync"}, content=first, headers=keyed)
    assert (made.status_code, made.json()["imported"], made.json()["withdrawn"]) == (201, 3, 0)
    # Cy has been called meanwhile; Bo's number changes under the same id.
    await app.state.db["campaign_contacts"].update_one(
        {"campaign_id": campaign_id, "id": "c"}, {"$set": {"status": "done", "attempts": 1}}
    )
    edited = b"id,phone,name\nb,+14155550112,Bo\nd,+14155550104,Di\n"
    keyed = {**operator, **CSV, "Idempotency-Key": "s2"}
    synced = await client.post(url, params={"existing": "sync"}, content=edited, headers=keyed)
    assert synced.status_code == 201, synced.text
    body = synced.json()
    # Ann (pending, off the list) is withdrawn; Bo stays (his id is on the list); Cy stays
    # (called already, with her record); Di is added.
    assert (body["imported"], body["skipped"], body["withdrawn"]) == (1, 1, 1)
    replay = await client.post(url, params={"existing": "sync"}, content=edited, headers=keyed)
    assert replay.json() == {**body, "replayed": True}
    contacts = (await client.get(url, headers=account.headers)).json()["data"]
    assert sorted((c["id"], c["status"]) for c in contacts) == [
        ("b", "pending"),
        ("c", "done"),
        ("d", "pending"),
    ]

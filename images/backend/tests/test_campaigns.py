"""Campaigns: states, streamed all-or-nothing CSV import, validation and progress."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ori_backend.security import derived_id
from ori_e2e.backend import Account, BotSpecFactory, Signup

pytestmark = pytest.mark.integration


CSV = {"Content-Type": "text/csv"}


async def _campaign(
    client: httpx.AsyncClient, account: Account, bot_spec: BotSpecFactory, **spec: Any
) -> dict[str, Any]:
    bot = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    body = {"name": "Spring recall", "bot_id": bot.json()["id"], **spec}
    answer = await client.post("/api/v1/campaigns", json=body, headers=account.headers)
    assert answer.status_code == 201, answer.text
    campaign: dict[str, Any] = answer.json()
    return campaign


async def test_state_machine(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec)
    assert campaign["state"] == "draft"
    url = f"/api/v1/campaigns/{campaign['id']}/state"
    steps = [
        ("paused", 409),
        ("running", 200),
        ("paused", 200),
        ("running", 200),
        ("completed", 200),
        ("running", 409),
    ]
    for target, expected in steps:
        answer = await client.post(url, json={"state": target}, headers=account.headers)
        assert answer.status_code == expected, (target, answer.text)
    final = await client.put(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"name": "x", "bot_id": campaign["bot_id"]},
        headers=account.headers,
    )
    assert final.status_code == 409


async def test_campaign_needs_a_bot_of_the_workspace(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    answer = await client.post(
        "/api/v1/campaigns", json={"name": "x", "bot_id": "bot_missing"}, headers=account.headers
    )
    assert answer.status_code == 422


async def test_import_normalises_infers_timezones_and_counts(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec, default_timezone="America/New_York")
    body = (
        "\ufeffPhone,Name,timezone,plan\r\n"
        "(415) 555-2671,Jordan Lee,,gold\r\n"
        '+44 20 7946 0958,"Smith, Ann",Europe/London,\r\n'
        '+91 98765 43210,Ravi,,"multi\nline"\r\n'
    )
    answer = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        content=body.encode(),
        headers={**account.headers, **CSV},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["imported"] == 3
    contacts = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/contacts", headers=account.headers
    )
    rows = {c["phone"]: c for c in contacts.json()["data"]}
    assert rows["+14155552671"]["timezone"] == "America/Los_Angeles"
    assert rows["+14155552671"]["custom_fields"] == {"plan": "gold"}
    assert rows["+442079460958"]["name"] == "Smith, Ann"
    assert (
        rows["+919876543210"]["timezone"] == "Asia/Calcutta"
        or rows["+919876543210"]["timezone"] == "Asia/Kolkata"
    )
    assert rows["+919876543210"]["custom_fields"]["plan"] == "multi\nline"
    read = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=account.headers)
    assert read.json()["progress"] == {
        "total": 3,
        "pending": 3,
        "in_progress": 0,
        "done": 0,
        "failed": 0,
    }


async def test_bad_rows_import_nothing_and_are_all_reported(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    dnc = await client.post(
        "/api/v1/dnc", json={"numbers": ["+14155550199"]}, headers=account.headers
    )
    assert dnc.status_code == 201
    campaign = await _campaign(client, account, bot_spec)
    body = (
        "phone,name,timezone\n"
        "+14155550101,Ok,\n"
        "12,Too short,\n"
        "+14155550101,Duplicate,\n"
        "+14155550199,Barred,\n"
        "+14155550102,Bad zone,Mars/Olympus\n"
        "+14155550103,Too,many,fields\n"
    )
    answer = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        content=body.encode(),
        headers={**account.headers, **CSV},
    )
    assert answer.status_code == 422
    problems = {(d["row"], d["column"]) for d in answer.json()["details"]}
    assert problems == {(2, "phone"), (3, "phone"), (4, "phone"), (5, "timezone"), (6, "*")}
    assert "nothing was imported" in answer.json()["message"]
    read = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=account.headers)
    assert read.json()["progress"]["total"] == 0


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ("phone,name\n+14155550101,Jos\xe9\n".encode("latin-1"), 400, "UTF-8"),
        (b'phone,name\n"+14155550101,unterminated\n', 400, "quoted field"),
        (b"", 422, "empty"),
        (b"name,email\nA,a@example.com\n", 422, "phone column"),
        (b"phone\n", 422, "no data rows"),
    ],
)
async def test_malformed_files_are_clear_4xx(
    client: httpx.AsyncClient,
    signup: Signup,
    bot_spec: BotSpecFactory,
    body: bytes,
    status: int,
    needle: str,
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec)
    answer = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        content=body,
        headers={**account.headers, **CSV},
    )
    assert answer.status_code == status, answer.text
    assert needle in answer.json()["message"]


async def test_a_second_import_rejects_numbers_already_in_the_campaign(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec)
    url = f"/api/v1/campaigns/{campaign['id']}/contacts"
    first = await client.post(
        url, content=b"phone\n+14155550101\n", headers={**account.headers, **CSV}
    )
    assert first.status_code == 201
    again = await client.post(
        url, content=b"phone\n+14155550101\n+14155550102\n", headers={**account.headers, **CSV}
    )
    assert again.status_code == 422
    assert "already a contact" in again.json()["details"][0]["message"]


async def test_oversized_upload_is_413_while_streaming(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory, app: FastAPI
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec)
    limit = app.state.settings.max_upload_mb * 1024 * 1024
    line = b"+14155550101,padding-" + b"x" * 1000 + b"\n"
    sent = {"bytes": 0}

    async def body() -> AsyncIterator[bytes]:
        yield b"phone,pad\n"
        while sent["bytes"] < 200 * 1024 * 1024:  # a 200 MB upload, never held whole
            chunk = line * 256
            sent["bytes"] += len(chunk)
            yield chunk

    answer = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        content=body(),
        headers={**account.headers, **CSV},
    )
    assert answer.status_code == 413
    assert sent["bytes"] < limit + 2 * len(line) * 256 + 1
    assert await app.state.db["campaign_contacts"].count_documents({}) == 0


async def test_a_contact_id_already_in_the_campaign_is_a_row_error(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec)
    url = f"/api/v1/campaigns/{campaign['id']}/contacts"
    headers = {**account.headers, **CSV}
    first = await client.post(url, content=b"id,phone\nc-1,+14155550101\n", headers=headers)
    assert first.status_code == 201
    again = await client.post(
        url, content=b"id,phone\nc-2,+14155550102\nc-1,+14155550103\n", headers=headers
    )
    assert again.status_code == 422
    assert again.json()["details"] == [
        {"row": 2, "column": "id", "message": "id 'c-1' is already in this campaign"}
    ]
    read = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=account.headers)
    assert read.json()["progress"]["total"] == 1


async def test_contacts_upload_as_a_multipart_file_too(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    campaign = await _campaign(client, account, bot_spec)
    url = f"/api/v1/campaigns/{campaign['id']}/contacts"
    csv_file = b"phone,name\n+14155550101,Ann\n+14155550102,Bo\n"
    answer = await client.post(
        url,
        data={"note": "spring list"},  # other form fields are ignored
        files={"file": ("contacts.csv", csv_file, "text/csv")},
        headers=account.headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["imported"] == 2
    wrong_field = await client.post(
        url, files={"upload": ("c.csv", b"phone\n+14155550103\n", "text/csv")},
        headers=account.headers,
    )  # fmt: skip
    assert wrong_field.status_code == 422
    assert "'file' part" in wrong_field.json()["message"]
    broken = await client.post(
        url,
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nphone\n+1415',
        headers={**account.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code == 400
    no_boundary = await client.post(
        url, content=b"x", headers={**account.headers, "Content-Type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400
    read = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=account.headers)
    assert read.json()["progress"]["total"] == 2


async def test_a_create_with_an_idempotency_key_makes_one_campaign_with_a_derived_id(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    bot = await client.post("/api/v1/bots", json=bot_spec(), headers=account.headers)
    body = {"name": "Spring recall", "bot_id": bot.json()["id"]}
    keyed = {**account.headers, "Idempotency-Key": "crm-batch-42"}
    first = await client.post("/api/v1/campaigns", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    assert first.json()["id"] == derived_id(
        "cmp", account.workspace_id, "idempotency-key/crm-batch-42"
    )
    again = await client.post("/api/v1/campaigns", json={**body, "name": "x"}, headers=keyed)
    assert again.status_code == 200  # the answer that was lost, not a second draft
    assert (again.json()["id"], again.json()["name"]) == (first.json()["id"], "Spring recall")
    other = await client.post(
        "/api/v1/campaigns", json=body, headers={**keyed, "Idempotency-Key": "crm-batch-43"}
    )
    plain = await client.post("/api/v1/campaigns", json=body, headers=account.headers)
    ids = {first.json()["id"], other.json()["id"], plain.json()["id"]}
    listed = await client.get("/api/v1/campaigns", headers=account.headers)
    assert {c["id"] for c in listed.json()} == ids and len(ids) == 3
    assert (other.json()["managed_by"], other.json()["read_only"]) == ("api", False)
    bad_key = await client.post(
        "/api/v1/campaigns", json=body, headers={**keyed, "Idempotency-Key": "a b"}
    )
    assert bad_key.status_code == 422

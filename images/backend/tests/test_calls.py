"""Call records: filters, text search, cursor pagination, isolation and recording links."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio

from ori_backend.settings import BackendSettings
from ori_contracts.ids import new_call_id
from ori_contracts.testing import make_call_result
from ori_contracts.wire import CALL_RESULTS_PATH, bearer
from ori_e2e.backend import FLEET_SECRET, Signup
from ori_e2e.servers import MongoServer, S3Server

pytestmark = pytest.mark.integration

FLEET = bearer(FLEET_SECRET)


@pytest.fixture
def settings(
    mongo_server: MongoServer,
    mongo_db_name: str,
    redis_url: str,
    tmp_path: Path,
    s3_server: S3Server,
) -> BackendSettings:
    return BackendSettings.model_validate(
        {
            "mongodb_uri": mongo_server.url,
            "mongodb_db": mongo_db_name,
            "redis_url": redis_url,
            "jwt_secret": "test-jwt-secret-0123456789abcdef",
            "voxcore_wss_base_url": "ws://127.0.0.1:8001/ws",
            "voxcore_secret": FLEET_SECRET,
            "qdrant_path": str(tmp_path / "qdrant"),
            "minio_endpoint": s3_server.endpoint,
            "minio_access_key": s3_server.access_key,
            "minio_secret_key": s3_server.secret_key,
        }
    )


async def _deliver(client: httpx.AsyncClient, workspace_id: str, **overrides: Any) -> str:
    call_id = overrides.pop("call_id", None) or new_call_id()
    result = make_call_result(call_id=call_id, workspace_id=workspace_id, **overrides)
    answer = await client.post(
        CALL_RESULTS_PATH, json=result.model_dump(mode="json"), headers=FLEET
    )
    assert answer.status_code == 200, answer.text
    return call_id


def _timings(day: int) -> dict[str, Any]:
    start = datetime(2026, 3, day, 17, 0, tzinfo=UTC)
    return {
        "created_at": start - timedelta(seconds=2),
        "started_at": start,
        "answered_at": start + timedelta(seconds=5),
        "ended_at": start + timedelta(seconds=40),
    }


async def test_filters_search_and_pagination(client: httpx.AsyncClient, signup: Signup) -> None:
    account = await signup()
    ids = [
        await _deliver(client, account.workspace_id, timings=_timings(day)) for day in range(1, 6)
    ]
    await _deliver(
        client,
        account.workspace_id,
        disposition="not_interested",
        bot_id="other-bot",
        timings=_timings(9),
    )
    h = account.headers
    everything = await client.get("/api/v1/calls", headers=h)
    assert len(everything.json()["data"]) == 6
    by_bot = await client.get("/api/v1/calls", params={"bot_id": "other-bot"}, headers=h)
    assert [c["disposition"] for c in by_bot.json()["data"]] == ["not_interested"]
    by_disposition = await client.get(
        "/api/v1/calls",
        params={"disposition": "appointment_booked", "outcome": "completed"},
        headers=h,
    )
    assert len(by_disposition.json()["data"]) == 5
    window = await client.get(
        "/api/v1/calls",
        params={"since": "2026-03-02T00:00:00Z", "until": "2026-03-04T00:00:00Z"},
        headers=h,
    )
    assert {c["id"] for c in window.json()["data"]} == set(ids[1:3])
    found = await client.get("/api/v1/calls", params={"q": "CLEANING appointment"}, headers=h)
    assert len(found.json()["data"]) == 6
    nothing = await client.get("/api/v1/calls", params={"q": "refund (.*)"}, headers=h)
    assert nothing.json()["data"] == []
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/calls", params=params, headers=h)).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6
    assert seen[1:] == sorted(ids, reverse=True)


async def test_other_workspaces_calls_are_404(client: httpx.AsyncClient, signup: Signup) -> None:
    mine, theirs = await signup(), await signup()
    call_id = await _deliver(client, theirs.workspace_id)
    assert (await client.get(f"/api/v1/calls/{call_id}", headers=mine.headers)).status_code == 404
    assert (await client.get("/api/v1/calls", headers=mine.headers)).json()["data"] == []


async def test_recording_link_is_presigned_for_an_hour(
    client: httpx.AsyncClient, signup: Signup, s3_server: S3Server, s3_bucket: str
) -> None:
    account = await signup()
    storage = Minio(
        s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        secure=False,
    )
    audio = b"RIFF" + b"\0" * 2048
    storage.put_object(s3_bucket, "ws/call.wav", io.BytesIO(audio), len(audio))
    made = make_call_result().recording
    assert made is not None
    recording = made.model_dump() | {
        "bucket": s3_bucket,
        "object_key": "ws/call.wav",
    }
    call_id = await _deliver(client, account.workspace_id, recording=recording)
    link = await client.get(f"/api/v1/calls/{call_id}/recording", headers=account.headers)
    assert link.status_code == 200, link.text
    assert "X-Amz-Expires=3600" in link.json()["url"]
    async with httpx.AsyncClient() as plain:
        downloaded = await plain.get(link.json()["url"])
    assert downloaded.content == audio
    no_recording = await _deliver(client, account.workspace_id, recording=None)
    missing = await client.get(f"/api/v1/calls/{no_recording}/recording", headers=account.headers)
    assert missing.status_code == 404


async def test_a_result_the_store_cannot_hold_as_a_document_is_kept_whole(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    route = [[37.77, -122.42], [37.80, -122.27]]  # a tool's answer: arrays in an array
    turns = make_call_result().model_dump(mode="json")["transcript"]
    tool = next(t for t in turns if t["role"] == "tool")
    tool["tool_result"] = {"route": route}
    call_id = await _deliver(client, account.workspace_id, transcript=turns)
    again = make_call_result(call_id=call_id, workspace_id=account.workspace_id, transcript=turns)
    repeat = await client.post(CALL_RESULTS_PATH, json=again.model_dump(mode="json"), headers=FLEET)
    assert repeat.status_code == 200, repeat.text  # the duplicate reads the stored claim
    record = (await client.get(f"/api/v1/calls/{call_id}", headers=account.headers)).json()
    stored = next(t for t in record["result"]["transcript"] if t["role"] == "tool")
    assert stored["tool_result"] == {"route": route}
    listed = (await client.get("/api/v1/calls", headers=account.headers)).json()["data"]
    assert [c["id"] for c in listed] == [call_id]

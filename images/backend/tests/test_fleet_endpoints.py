"""The worker's two endpoints, exactly as `ori_contracts.wire` defines them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ori_contracts import redis_keys
from ori_contracts.call_result import CallResult
from ori_contracts.ids import new_call_id
from ori_contracts.runtime_config import RuntimeConfig
from ori_contracts.testing import make_call_result
from ori_contracts.wire import CALL_RESULTS_PATH, CONFIG_PATH, bearer
from ori_e2e.backend import FLEET_SECRET, Account, BotSpecFactory, Signup

pytestmark = pytest.mark.integration

FLEET = bearer(FLEET_SECRET)


async def _bot(client: httpx.AsyncClient, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/api/v1/bots", json=spec, headers=account.headers)
    assert answer.status_code == 201, answer.text
    bot: dict[str, Any] = answer.json()
    return bot


def _inbound(call_id: str, bot_id: str | None) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "bot_id": bot_id,
        "direction": "inbound",
        "telephony": "twilio",
        "from_number": "+14155550142",
        "to_number": "+14155550100",
        "worker_id": "worker-1",
    }


async def test_inbound_config_is_built_cached_and_recorded(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory, app: FastAPI
) -> None:
    account = await signup()
    bot = await _bot(client, account, bot_spec())
    call_id = new_call_id()
    first = await client.post(CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=FLEET)
    assert first.status_code == 200, first.text
    config = RuntimeConfig.model_validate_json(first.content)
    assert (config.call_id, config.bot_id, config.bot_version) == (call_id, bot["id"], 1)
    assert config.workspace_id == account.workspace_id
    assert config.telephony_provider == "twilio"
    assert await app.state.redis.get(redis_keys.runtime_config(call_id)) == first.content
    token = first.headers["X-Ori-Call-Token"]
    again = await client.post(CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=bearer(token))
    assert again.content == first.content
    record = await client.get(f"/api/v1/calls/{call_id}", headers=account.headers)
    assert record.json()["status"] == "in_progress"
    assert record.json()["bot_version"] == 1


async def test_config_refuses_bad_credentials_and_unknown_calls(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    bot = await _bot(client, account, bot_spec())
    call_id = new_call_id()
    wrong = await client.post(
        CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=bearer("nope")
    )
    assert wrong.status_code == 401
    forged = bearer(f"oct1.{call_id}.9999999999.forgedsignature")
    assert (
        await client.post(CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=forged)
    ).status_code == 401
    unknown = await client.post(CONFIG_PATH, json=_inbound(new_call_id(), None), headers=FLEET)
    assert unknown.status_code == 404
    missing_bot = await client.post(
        CONFIG_PATH, json=_inbound(new_call_id(), "bot_nope"), headers=FLEET
    )
    assert missing_bot.status_code == 404
    ok = await client.post(CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=FLEET)
    other_call = await client.post(
        CONFIG_PATH,
        json=_inbound(new_call_id(), bot["id"]),
        headers=bearer(ok.headers["X-Ori-Call-Token"]),
    )
    assert other_call.status_code == 403


def _result_for(config: RuntimeConfig, **overrides: Any) -> CallResult:
    return make_call_result(
        call_id=config.call_id,
        bot_id=config.bot_id,
        bot_version=config.bot_version,
        workspace_id=config.workspace_id,
        campaign_id=None,
        **overrides,
    )


async def test_duplicate_concurrent_result_deliveries_leave_one_record(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory, app: FastAPI
) -> None:
    account = await signup()
    bot = await _bot(client, account, bot_spec())
    call_id = new_call_id()
    answer = await client.post(CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=FLEET)
    config = RuntimeConfig.model_validate_json(answer.content)
    body = _result_for(config).model_dump(mode="json")
    answers = await asyncio.gather(
        *(client.post(CALL_RESULTS_PATH, json=body, headers=FLEET) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {200}
    assert sum(a.json()["stored"] for a in answers) == 1
    assert await app.state.db["calls"].count_documents({"_id": call_id}) == 1
    record = await client.get(f"/api/v1/calls/{call_id}", headers=account.headers)
    assert record.json()["status"] == "ended"
    assert record.json()["disposition"] == "appointment_booked"
    assert record.json()["result"]["transcript"][1]["text"].startswith("Yes, I'd like")
    assert record.json()["cost_usd"] == 0.0


async def test_result_before_config_and_a_later_different_result_keep_the_first(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory, app: FastAPI
) -> None:
    account = await signup()
    bot = await _bot(client, account, bot_spec())
    call_id = new_call_id()
    early = make_call_result(
        call_id=call_id,
        bot_id=bot["id"],
        bot_version=1,
        workspace_id=account.workspace_id,
        campaign_id=None,
    )
    stored = await client.post(CALL_RESULTS_PATH, json=early.model_dump(mode="json"), headers=FLEET)
    assert stored.json() == {"call_id": call_id, "stored": True}
    late_config = await client.post(CONFIG_PATH, json=_inbound(call_id, bot["id"]), headers=FLEET)
    assert late_config.status_code == 200
    different = early.model_copy(update={"disposition": "not_interested"})
    again = await client.post(
        CALL_RESULTS_PATH, json=different.model_dump(mode="json"), headers=FLEET
    )
    assert again.json()["stored"] is False
    assert await app.state.db["calls"].count_documents({"_id": call_id}) == 1
    record = await client.get(f"/api/v1/calls/{call_id}", headers=account.headers)
    assert (record.json()["status"], record.json()["disposition"]) == (
        "ended",
        "appointment_booked",
    )


async def test_invalid_result_is_422_and_stores_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = make_call_result(call_id=new_call_id()).model_dump(mode="json")
    body["outcome"] = "failed"  # failed needs a failure_reason
    answer = await client.post(CALL_RESULTS_PATH, json=body, headers=FLEET)
    assert answer.status_code == 422
    assert await app.state.db["calls"].count_documents({"_id": body["call_id"]}) == 0


async def test_call_token_cannot_deliver_another_calls_result(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    bot = await _bot(client, account, bot_spec())
    answer = await client.post(CONFIG_PATH, json=_inbound(new_call_id(), bot["id"]), headers=FLEET)
    token = bearer(answer.headers["X-Ori-Call-Token"])
    other = make_call_result(call_id=new_call_id()).model_dump(mode="json")
    assert (await client.post(CALL_RESULTS_PATH, json=other, headers=token)).status_code == 403

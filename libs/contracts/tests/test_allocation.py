"""Allocation contracts that need no Redis: call building, answers, tokens and routing paths."""

from typing import Any

import pytest

from ori_contracts import allocation, redis_keys
from ori_contracts.allocation import (
    ClaimOutcome,
    InvalidCallToken,
    WorkerRegistration,
    WorkerState,
)

pytestmark = pytest.mark.unit

SECRET = "a-shared-secret-of-enough-length"


def test_claim_uses_the_documented_keys_and_the_worker_key_template() -> None:
    call = allocation.claim("default", "call_1")
    assert call.keys == (
        redis_keys.pool_idle_workers("default"),
        redis_keys.pool_active_calls("default"),
        redis_keys.call_claim("call_1"),
    )
    prefix, suffix = call.args[1], call.args[2]
    assert prefix + "worker-7" + suffix == redis_keys.worker("worker-7")


def test_script_calls_refuse_unsafe_ids() -> None:
    with pytest.raises(ValueError, match="not a safe id"):
        allocation.claim("default", "call:*")
    with pytest.raises(ValueError, match="not a safe id"):
        allocation.heartbeat("w 1", "default", "10.0.0.1:8000")


def test_each_script_has_a_stable_sha1() -> None:
    assert len(allocation.CLAIM.sha1) == 40
    assert allocation.CLAIM.sha1 != allocation.RELEASE.sha1


def test_parse_claim_and_state() -> None:
    result = allocation.parse_claim([b"claimed", b"w-1", b"10.0.0.5:8000"])
    assert result.outcome is ClaimOutcome.CLAIMED
    assert result.ok
    assert (result.worker_id, result.address) == ("w-1", "10.0.0.5:8000")
    full = allocation.parse_claim([b"full", b"", b""])
    assert not full.ok
    assert full.worker_id is None
    assert allocation.parse_state([b"busy", b"call_1"]) is WorkerState.BUSY
    assert allocation.parse_state(b"gone") is None


def test_registration_parses_an_hgetall_answer() -> None:
    raw = {
        b"worker_id": b"w-1",
        b"pool": b"default",
        b"address": b"10.0.0.5:8000",
        b"state": b"busy",
        b"call_id": b"call_1",
        b"heartbeat_at": b"1700000000.5",
        b"draining_at": b"",
    }
    registration = WorkerRegistration.from_hash(raw)
    assert registration is not None
    assert registration.state is WorkerState.BUSY
    assert registration.heartbeat_at == 1700000000.5
    assert registration.draining_at is None
    assert WorkerRegistration.from_hash({}) is None


def test_call_token_round_trip() -> None:
    token = allocation.sign_call_token(SECRET, call_id="call_1", worker_id="w-1", expires_at=2000)
    assert token.startswith("v1.2000.")
    assert allocation.verify_call_token(
        SECRET, token, call_id="call_1", worker_id="w-1", now=1999
    ) == 2000  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"call_id": "call_2", "worker_id": "w-1", "now": 10}, "not signed for this call"),
        ({"call_id": "call_1", "worker_id": "w-2", "now": 10}, "not signed for this call"),
        ({"call_id": "call_1", "worker_id": "w-1", "now": 2001}, "expired"),
    ],
)
def test_call_token_is_bound_to_call_worker_and_time(kwargs: dict[str, Any], message: str) -> None:
    token = allocation.sign_call_token(SECRET, call_id="call_1", worker_id="w-1", expires_at=2000)
    with pytest.raises(InvalidCallToken, match=message):
        allocation.verify_call_token(SECRET, token, **kwargs)


@pytest.mark.parametrize("token", ["", "v1", "v2.2000.abc", "v1.soon.abc", "v1.2000."])
def test_malformed_call_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidCallToken, match="malformed"):
        allocation.verify_call_token(SECRET, token, call_id="c", worker_id="w", now=0)


def test_routed_path_embeds_the_worker_address() -> None:
    assert allocation.routed_path("10.244.1.7:8000", "/ws/front-desk?token=t") == (
        "/w/10.244.1.7/8000/ws/front-desk?token=t"
    )


@pytest.mark.parametrize(
    "base", ["wss://calls.example.com/w", "wss://calls.example.com/w/", "wss://calls.example.com"]
)
def test_routed_url_joins_the_router_s_public_base_once(base: str) -> None:
    assert allocation.routed_url(base, "10.244.1.7:8000", "/twilio/front-desk") == (
        "wss://calls.example.com/w/10.244.1.7/8000/twilio/front-desk"
    )


@pytest.mark.parametrize("address", ["worker-0:8000", "10.0.0.1", "10.0.0.1:0", "[::1]:8000"])
def test_routed_path_refuses_anything_but_ipv4_and_port(address: str) -> None:
    with pytest.raises(ValueError):
        allocation.routed_path(address, "/ws")


def test_admit_uses_the_documented_keys_and_parses_its_answer() -> None:
    call = allocation.admit("w-1", "default", "10.0.0.5:8000", "call_1")
    assert call.keys == (
        redis_keys.worker("w-1"),
        redis_keys.pool_idle_workers("default"),
        redis_keys.pool_active_calls("default"),
        redis_keys.call_claim("call_1"),
    )
    admitted = allocation.parse_admit([b"admitted", b""])
    assert (admitted.outcome, admitted.detail, admitted.ok) == ("admitted", None, True)
    busy = allocation.parse_admit([b"busy", b"call_0"])
    assert (busy.outcome, busy.detail, busy.ok) == ("busy", "call_0", False)
    with pytest.raises(ValueError, match="not a safe id"):
        allocation.admit("w-1", "default", "10.0.0.5:8000", "call:*")

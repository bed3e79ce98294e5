"""Allocating calls to workers in Redis: the Lua scripts, how to call them, and what they return.

Allocation is an atomic claim of one idle worker, then explicit routing to it. Everything
happens in Redis with the keys of `redis_keys`:

* `worker(worker_id)`, hash, the worker's **registration** (fields below). It lives
  `WORKER_TTL_S` and every heartbeat renews it, so a dead worker vanishes on its own.
* `pool_idle_workers(pool)`, sorted set of idle worker ids scored by last heartbeat.
* `pool_active_calls(pool)`, sorted set of live call ids scored by last heartbeat: KEDA's
  `redis` scaler reads its `ZCARD`. Stale members are pruned by score.
* `call_claim(call_id)`, string: the worker a call was given (a reconnect finds it again).

Registration hash fields (all strings, as Redis stores them):

| field | meaning |
|---|---|
| `worker_id` | the worker's id: its pod name in Kubernetes |
| `pool` | the `FleetPool` it belongs to |
| `address` | `host:port` the call router proxies the call's WebSocket to (the pod IP) |
| `state` | `idle`, `busy`, `draining` (busy; goes away after the call) or `retired` |
| `call_id` | the call it holds; empty when idle |
| `registered_at`, `heartbeat_at` | Unix seconds, Redis server clock (as all times here) |
| `claimed_at`, `draining_at`, `retired_at` | when the state last changed that way |

State changes, each one script, so none can interleave with another:

* **heartbeat** (the worker, every `WORKER_HEARTBEAT_INTERVAL_S`): registers on first call
  (`idle`, or `busy` if it already holds a call), renews the TTL, refreshes its idle score or
  its call's active score. Answers the state Redis holds, which wins over the worker's view:
  `busy` means a call was claimed for it; `retired` means "take nothing, exit when told".
* **claim** (whoever answers or places a call): the same call id answers the same worker
  (a reconnect), otherwise the idle worker with the freshest heartbeat becomes `busy`.
  Registrations that expired or are not idle are skipped and dropped from the idle set.
* **release** (the worker, at hang-up): `busy` -> `idle`; `draining` -> `retired`.
* **retire** (the operator, scale-down): `idle` or unregistered -> `retired`; with `drain`,
  `busy` -> `draining`. Claim and retire both require `idle`, so they can never both win.
* **undrain** (the operator, scale-up again): `draining` -> `busy`.
* **admit** (the worker, when a call reaches it without a claim, e.g. a carrier's inbound
  call routed straight to it): `idle` or unregistered -> `busy` with that call, as a claim
  would; the call's own claim answers `existing`. A worker claimed for another call,
  draining or retired refuses the call. Admit, claim and retire all require `idle`, so at
  most one of them wins.

The scripts touch registration keys they compute from ids, so they need one Redis (or all
keys in one cluster slot), not a Redis Cluster spread. Callers run them with redis-py as::

    script = redis.register_script(call.script.source)   # once per script; EVALSHA after
    raw = await script(keys=call.keys, args=call.args)

The per-call token a worker checks is `sign_call_token`: an HMAC-SHA256 over the call, the
worker and an expiry, keyed with `VOXCORE_SECRET`. The call router (nginx) forwards a call's
WebSocket to the address embedded in its path (`routed_path`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pydantic import Field

from ori_contracts import redis_keys
from ori_contracts.base import ContractModel

__all__ = [
    "CALL_TOKEN_VERSION",
    "ADMIT",
    "CLAIM",
    "HEARTBEAT",
    "PRUNE_ACTIVE_CALLS",
    "RELEASE",
    "RETIRE",
    "RETIRED_TOMBSTONE_TTL_S",
    "ROUTER_PREFIX",
    "UNDRAIN",
    "ClaimOutcome",
    "ClaimResult",
    "InvalidCallToken",
    "Script",
    "ScriptCall",
    "WorkerRegistration",
    "AdmitOutcome",
    "AdmitResult",
    "WorkerState",
    "admit",
    "claim",
    "heartbeat",
    "parse_admit",
    "parse_claim",
    "parse_state",
    "prune_active_calls",
    "release",
    "retire",
    "routed_path",
    "sign_call_token",
    "undrain",
    "verify_call_token",
]

RETIRED_TOMBSTONE_TTL_S: Final = 600
"""How long a `retired` mark on a worker that never registered outlives it (its pod is being
deleted; the mark stops a late-starting process from registering as idle)."""

CLAIM_MAX_SCAN: Final = 64
"""Idle-set entries one claim may discard as stale before it answers `full`."""


class WorkerState(StrEnum):
    """A worker's state in its registration."""

    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"
    RETIRED = "retired"


class ClaimOutcome(StrEnum):
    """What a claim did."""

    CLAIMED = "claimed"
    """An idle worker was claimed for the call."""
    EXISTING = "existing"
    """The call already had a live worker; it is answered again (a reconnect)."""
    FULL = "full"
    """No idle worker in the pool: answer busy, the caller paces down."""
    GONE = "gone"
    """The call had a worker that is no longer registered: the call is lost."""


class AdmitOutcome(StrEnum):
    """What an admission (`admit`) did."""

    ADMITTED = "admitted"
    """The worker was idle (or unregistered) and is now busy with the call."""
    EXISTING = "existing"
    """The worker already holds this call (it was claimed for it): serve it."""
    BUSY = "busy"
    """The worker was claimed for another call: refuse this one."""
    DRAINING = "draining"
    """The worker is draining: refuse."""
    RETIRED = "retired"
    """The worker is retired: refuse."""
    ELSEWHERE = "elsewhere"
    """The call was claimed for another worker: refuse (it belongs there)."""


class WorkerRegistration(ContractModel):
    """A worker's registration hash, parsed (see the module docstring for the fields)."""

    worker_id: str = Field(description="The worker's id (its pod name).")
    pool: str = Field(default="", description="Its FleetPool; empty on a bare tombstone.")
    address: str = Field(default="", description="`host:port` calls are routed to.")
    state: WorkerState = Field(description="Where it stands.")
    call_id: str = Field(default="", description="The call it holds; empty when idle.")
    registered_at: float | None = Field(default=None, description="First heartbeat, Unix s.")
    heartbeat_at: float | None = Field(default=None, description="Last heartbeat, Unix s.")
    claimed_at: float | None = Field(default=None, description="When its call was claimed.")
    draining_at: float | None = Field(default=None, description="When it was marked draining.")

    @classmethod
    def from_hash(cls, raw: Mapping[Any, bytes | str]) -> WorkerRegistration | None:
        """Parse an `HGETALL` answer; None for a missing (expired) registration."""
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        cleaned = {k: v for k, v in fields.items() if v != ""}
        cleaned.setdefault("worker_id", "")
        return cls.model_validate(cleaned)


@dataclass(frozen=True)
class Script:
    """A Lua script and its SHA-1 (what `EVALSHA` names it by)."""

    name: str
    source: str

    @property
    def sha1(self) -> str:
        """The script's SHA-1, hex."""
        return hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class ScriptCall:
    """One invocation: the script, its KEYS and its ARGV."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[str, ...]


@dataclass(frozen=True)
class ClaimResult:
    """The answer of `claim`."""

    outcome: ClaimOutcome
    worker_id: str | None
    address: str | None

    @property
    def ok(self) -> bool:
        """Whether the call has a worker to be routed to."""
        return self.outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.EXISTING)


@dataclass(frozen=True)
class AdmitResult:
    """The answer of `admit`."""

    outcome: AdmitOutcome
    detail: str | None
    """The other call (`busy`, `draining`) or the other worker (`elsewhere`), if any."""

    @property
    def ok(self) -> bool:
        """Whether the worker may serve the call."""
        return self.outcome in (AdmitOutcome.ADMITTED, AdmitOutcome.EXISTING)


_NOW = "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"

HEARTBEAT: Final = Script(
    "heartbeat",
    _NOW
    + """
-- KEYS: registration, idle set, active set
-- ARGV: worker_id, pool, address, ttl_s, call_id ('' if none), active_stale_after_s
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  state = (ARGV[5] ~= '') and 'busy' or 'idle'
  redis.call('HSET', KEYS[1], 'worker_id', ARGV[1], 'pool', ARGV[2], 'state', state,
    'call_id', ARGV[5], 'registered_at', now)
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'claimed_at', now) end
end
redis.call('HSET', KEYS[1], 'address', ARGV[3], 'heartbeat_at', now)
if state == 'retired' then
  if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {state, ''}
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
local call = redis.call('HGET', KEYS[1], 'call_id') or ''
if state == 'idle' then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  if call ~= '' then redis.call('ZADD', KEYS[3], now, call) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
return {state, call}
""",
)

CLAIM: Final = Script(
    "claim",
    _NOW
    + """
-- KEYS: idle set, active set, call claim
-- ARGV: call_id, worker key prefix, worker key suffix, worker ttl_s, claim ttl_s, pool,
--       max entries to scan
local owner = redis.call('GET', KEYS[3])
if owner then
  local reg = ARGV[2] .. owner .. ARGV[3]
  local f = redis.call('HMGET', reg, 'state', 'call_id', 'address')
  if (f[1] == 'busy' or f[1] == 'draining') and f[2] == ARGV[1] then
    return {'existing', owner, f[3]}
  end
  return {'gone', owner, ''}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))
for _ = 1, tonumber(ARGV[7]) do
  local top = redis.call('ZPOPMAX', KEYS[1])
  if #top == 0 then break end
  local worker = top[1]
  local reg = ARGV[2] .. worker .. ARGV[3]
  local f = redis.call('HMGET', reg, 'state', 'pool', 'address')
  if f[1] == 'idle' and f[2] == ARGV[6] then
    redis.call('HSET', reg, 'state', 'busy', 'call_id', ARGV[1], 'claimed_at', now)
    redis.call('SET', KEYS[3], worker, 'EX', ARGV[5])
    redis.call('ZADD', KEYS[2], now, ARGV[1])
    return {'claimed', worker, f[3]}
  end
end
return {'full', '', ''}
""",
)

RELEASE: Final = Script(
    "release",
    _NOW
    + """
-- KEYS: registration, idle set, active set, call claim
-- ARGV: worker_id, call_id, worker ttl_s
redis.call('ZREM', KEYS[3], ARGV[2])
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
local f = redis.call('HMGET', KEYS[1], 'state', 'call_id')
if not f[1] then return 'gone' end
if f[2] ~= ARGV[2] then return f[1] end
if f[1] == 'busy' then
  redis.call('HSET', KEYS[1], 'state', 'idle', 'call_id', '', 'heartbeat_at', now)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  return 'idle'
end
if f[1] == 'draining' then
  redis.call('HSET', KEYS[1], 'state', 'retired', 'call_id', '', 'retired_at', now)
  return 'retired'
end
return f[1]
""",
)

RETIRE: Final = Script(
    "retire",
    _NOW
    + """
-- KEYS: registration, idle set
-- ARGV: worker_id, tombstone ttl_s, drain ('1': a busy worker becomes draining)
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'worker_id', ARGV[1], 'state', 'retired', 'call_id', '',
    'retired_at', now)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'retired'
end
if state == 'idle' then
  redis.call('HSET', KEYS[1], 'state', 'retired', 'retired_at', now)
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'retired'
end
if state == 'busy' and ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'draining', 'draining_at', now)
  return 'draining'
end
return state
""",
)

UNDRAIN: Final = Script(
    "undrain",
    """
-- KEYS: registration
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'draining' then
  redis.call('HSET', KEYS[1], 'state', 'busy', 'draining_at', '')
  return 'busy'
end
return state or 'gone'
""",
)

ADMIT: Final = Script(
    "admit",
    _NOW
    + """
-- KEYS: registration, idle set, active set, call claim
-- ARGV: worker_id, pool, address, call_id, worker ttl_s, claim ttl_s
local owner = redis.call('GET', KEYS[4])
if owner and owner ~= ARGV[1] then return {'elsewhere', owner} end
local f = redis.call('HMGET', KEYS[1], 'state', 'call_id')
local state = f[1]
if state == 'busy' or state == 'draining' then
  if f[2] ~= ARGV[4] then return {state, f[2] or ''} end
  if not owner then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[6]) end
  redis.call('ZADD', KEYS[3], now, ARGV[4])
  return {'existing', ''}
end
if state and state ~= 'idle' then return {state, ''} end
if not state then
  redis.call('HSET', KEYS[1], 'worker_id', ARGV[1], 'pool', ARGV[2], 'registered_at', now)
end
redis.call('HSET', KEYS[1], 'state', 'busy', 'call_id', ARGV[4], 'claimed_at', now,
  'address', ARGV[3], 'heartbeat_at', now)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[6])
redis.call('ZADD', KEYS[3], now, ARGV[4])
return {'admitted', ''}
""",
)

PRUNE_ACTIVE_CALLS: Final = Script(
    "prune_active_calls",
    _NOW
    + """
-- KEYS: active set; ARGV: stale_after_s. Answers the live count (what KEDA reads).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[1])
""",
)


def _worker_key_parts() -> tuple[str, str]:
    sample = "w"
    prefix, _, suffix = redis_keys.worker(sample).partition(f":{sample}:")
    return f"{prefix}:", f":{suffix}"


def heartbeat(worker_id: str, pool: str, address: str, call_id: str | None = None) -> ScriptCall:
    """Register or renew a worker; answers `[state, call_id]` (see `parse_state`)."""
    return ScriptCall(
        HEARTBEAT,
        (
            redis_keys.worker(worker_id),
            redis_keys.pool_idle_workers(pool),
            redis_keys.pool_active_calls(pool),
        ),
        (
            worker_id,
            pool,
            address,
            str(redis_keys.WORKER_TTL_S),
            call_id or "",
            str(redis_keys.ACTIVE_CALL_STALE_AFTER_S),
        ),
    )


def claim(pool: str, call_id: str, *, max_scan: int = CLAIM_MAX_SCAN) -> ScriptCall:
    """Claim an idle worker of `pool` for `call_id`; answers a `ClaimResult` (`parse_claim`)."""
    prefix, suffix = _worker_key_parts()
    return ScriptCall(
        CLAIM,
        (
            redis_keys.pool_idle_workers(pool),
            redis_keys.pool_active_calls(pool),
            redis_keys.call_claim(call_id),
        ),
        (
            call_id,
            prefix,
            suffix,
            str(redis_keys.WORKER_TTL_S),
            str(redis_keys.CALL_CLAIM_TTL_S),
            pool,
            str(max_scan),
        ),
    )


def release(worker_id: str, pool: str, call_id: str) -> ScriptCall:
    """A call ended: free its worker; answers the worker's new state (`parse_state`)."""
    return ScriptCall(
        RELEASE,
        (
            redis_keys.worker(worker_id),
            redis_keys.pool_idle_workers(pool),
            redis_keys.pool_active_calls(pool),
            redis_keys.call_claim(call_id),
        ),
        (worker_id, call_id, str(redis_keys.WORKER_TTL_S)),
    )


def retire(worker_id: str, pool: str, *, drain: bool) -> ScriptCall:
    """Take a worker out of service; answers `retired`, `draining` or the state that kept it."""
    return ScriptCall(
        RETIRE,
        (redis_keys.worker(worker_id), redis_keys.pool_idle_workers(pool)),
        (worker_id, str(RETIRED_TOMBSTONE_TTL_S), "1" if drain else "0"),
    )


def undrain(worker_id: str) -> ScriptCall:
    """Put a draining worker back in service; answers `busy` or the state that kept it."""
    return ScriptCall(UNDRAIN, (redis_keys.worker(worker_id),), ())


def admit(worker_id: str, pool: str, address: str, call_id: str) -> ScriptCall:
    """A call reached `worker_id` without a claim: mark it busy with the call, if it may take it.

    Answers an `AdmitResult` (`parse_admit`). Releasing the call at hang-up is `release`.
    """
    return ScriptCall(
        ADMIT,
        (
            redis_keys.worker(worker_id),
            redis_keys.pool_idle_workers(pool),
            redis_keys.pool_active_calls(pool),
            redis_keys.call_claim(call_id),
        ),
        (
            worker_id,
            pool,
            address,
            call_id,
            str(redis_keys.WORKER_TTL_S),
            str(redis_keys.CALL_CLAIM_TTL_S),
        ),
    )


def prune_active_calls(pool: str) -> ScriptCall:
    """Drop stale active calls of `pool`; answers the live count."""
    return ScriptCall(
        PRUNE_ACTIVE_CALLS,
        (redis_keys.pool_active_calls(pool),),
        (str(redis_keys.ACTIVE_CALL_STALE_AFTER_S),),
    )


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def parse_claim(raw: list[bytes] | list[str]) -> ClaimResult:
    """Read the answer of `claim`."""
    outcome, worker, address = (_text(item) for item in raw)
    return ClaimResult(ClaimOutcome(outcome), worker or None, address or None)


def parse_admit(raw: list[bytes] | list[str]) -> AdmitResult:
    """Read the answer of `admit`."""
    outcome, detail = (_text(item) for item in raw)
    return AdmitResult(AdmitOutcome(outcome), detail or None)


def parse_state(raw: bytes | str | list[bytes] | list[str]) -> WorkerState | None:
    """Read a state answer (`heartbeat`'s first item, or the others' single value).

    Returns:
        The state, or None when the worker is not registered (`gone`).
    """
    value = _text(raw[0]) if isinstance(raw, list) else _text(raw)
    return None if value == "gone" else WorkerState(value)


# ------------------------------------------------------------------------------ routing

ROUTER_PREFIX: Final = "/w"
"""Path prefix of the call router: `/w/<ip>/<port>/<worker path>` goes to that worker."""

CALL_TOKEN_VERSION: Final = "v1"  # noqa: S105 - a format tag, not a secret


class InvalidCallToken(ValueError):
    """A per-call token is malformed, expired, or not signed for this call and worker."""


def routed_path(address: str, worker_path: str) -> str:
    """The call router path that reaches `worker_path` on the worker at `address`.

    Args:
        address: The worker's `ip:port`, from its registration (the claim's answer).
        worker_path: The path on the worker, e.g. `/ws/front-desk` (query string allowed).

    Returns:
        `/w/<ip>/<port>/<worker path>`.

    Raises:
        ValueError: The address is not an IPv4 `ip:port`.
    """
    host, _, port = address.rpartition(":")
    ipaddress.IPv4Address(host)  # raises ValueError on anything else
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"worker address {address!r} has no valid port")
    return f"{ROUTER_PREFIX}/{host}/{port}/{worker_path.lstrip('/')}"


def routed_url(base_url: str, address: str, worker_path: str) -> str:
    """The public URL a carrier streams to for `worker_path` on the worker at `address`.

    Args:
        base_url: The router's public base, with or without the router prefix
            (`VOXCORE_WSS_BASE_URL`, e.g. `wss://calls.example.com/w`).
        address: The worker's `ip:port`, from the claim.
        worker_path: The path on the worker, e.g. `/twilio/front-desk`.

    Raises:
        ValueError: The address is not an IPv4 `ip:port`.
    """
    path = routed_path(address, worker_path)
    base = base_url.rstrip("/")
    if base.endswith(ROUTER_PREFIX):
        base = base[: -len(ROUTER_PREFIX)]
    return base + path


def _mac(secret: str, call_id: str, worker_id: str, expires_at: int) -> str:
    message = f"{CALL_TOKEN_VERSION}\n{call_id}\n{worker_id}\n{expires_at}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_call_token(secret: str, *, call_id: str, worker_id: str, expires_at: int) -> str:
    """A token that lets one call's media connect to one worker until `expires_at`.

    Args:
        secret: `VOXCORE_SECRET`, shared by the signer and the workers.
        call_id: The call.
        worker_id: The worker the call was claimed on.
        expires_at: Unix seconds after which the token is refused.

    Returns:
        `v1.<expires_at>.<base64url HMAC-SHA256>`: URL-safe, carries no ids (the worker
        knows its own id and reads the call id from the request).
    """
    return f"{CALL_TOKEN_VERSION}.{expires_at}.{_mac(secret, call_id, worker_id, expires_at)}"


def verify_call_token(secret: str, token: str, *, call_id: str, worker_id: str, now: float) -> int:
    """Check a per-call token, as the worker does before taking a call's media.

    Args:
        secret: `VOXCORE_SECRET`.
        token: The token from the request.
        call_id: The call the request is for.
        worker_id: This worker's id.
        now: The current Unix time.

    Returns:
        The token's expiry.

    Raises:
        InvalidCallToken: Malformed, expired, or signed for another call or worker.
    """
    version, _, rest = token.partition(".")
    expires_text, _, mac = rest.partition(".")
    if version != CALL_TOKEN_VERSION or not expires_text.isdigit() or not mac:
        raise InvalidCallToken("malformed call token")
    expires_at = int(expires_text)
    if now > expires_at:
        raise InvalidCallToken("call token expired")
    if not hmac.compare_digest(mac, _mac(secret, call_id, worker_id, expires_at)):
        raise InvalidCallToken("call token was not signed for this call and worker")
    return expires_at

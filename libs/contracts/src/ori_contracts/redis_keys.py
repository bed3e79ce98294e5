"""Every Redis key Ori uses, and how long each lives. Nothing else builds a key.

Keys follow `ori:<entity>:<id>:<facet>`, facets in kebab-case. Every id is checked against
`ids.ID_PATTERN` (no `:`, `*`, spaces or other glob and separator characters) and a bad one
raises `ValueError`, so no caller can inject a key or a pattern.

Keys, their Redis type and their lifetime:

* `runtime_config(call_id)` -> `ori:call:<call_id>:runtime-config`. String: `RuntimeConfig`
  JSON, written by the backend. TTL `RUNTIME_CONFIG_TTL_S`.
* `call_claim(call_id)` -> `ori:call:<call_id>:claim`. String: the worker id the call was
  allocated to, set with `SET NX`. TTL `CALL_CLAIM_TTL_S`.
* `worker(worker_id)` -> `ori:worker:<worker_id>:registration`. Hash: pool, address, state.
  TTL `WORKER_TTL_S`, refreshed every `WORKER_HEARTBEAT_INTERVAL_S`.
* `pool_idle_workers(pool)` -> `ori:pool:<pool>:idle-workers`. Sorted set: worker ids scored
  by last heartbeat (Unix seconds). No TTL; members older than `WORKER_TTL_S` are stale and
  pruned by score.
* `pool_active_calls(pool)` -> `ori:pool:<pool>:active-calls`. Sorted set: call ids scored by
  last heartbeat (Unix seconds); the KEDA scaling metric. No TTL; members older than
  `ACTIVE_CALL_STALE_AFTER_S` are stale and pruned by score.
* `campaign_lease(campaign_id)` -> `ori:campaign:<campaign_id>:lease`. String: the id of the
  dialler instance pacing the campaign, set with `SET NX`. TTL `CAMPAIGN_LEASE_TTL_S`,
  renewed every `CAMPAIGN_LEASE_RENEW_INTERVAL_S`.
* `login_failures(identity)` -> `ori:login:<sha256 of identity>:failures`. String: counter
  (`INCR`). TTL `LOGIN_FAILURES_TTL_S`, set on the first failure.
* `rate_limit(scope, subject)` -> `ori:<scope>:<subject>:rate-limit`. String: counter
  (`INCR`). TTL `RATE_LIMIT_WINDOW_S`, set on the first hit.
* `livekit_dispatch(room, participant_sid)` -> `ori:livekit:<sha256 of both>:dispatch`.
  String: the call id a LiveKit SIP caller was dispatched as, set with `SET NX` by the
  backend (a repeated webhook starts no second call). TTL `CALL_CLAIM_TTL_S`.
* `twilio_answer(call_sid)` -> `ori:twilio:<sha256 of the CallSid>:answer`. String: the
  TwiML the backend answered a Twilio call's voice webhook with, set with `SET NX` (empty
  while it is being decided), so a webhook Twilio repeats gets the same answer and starts no
  second call. TTL `INBOUND_ANSWER_TTL_S`.
* `call_results_stream()` -> `ori:call-results`. Stream: one `CallResult` JSON per entry, in
  field `data`. No TTL; trimmed by length.

`max_duration_s` of a call is capped at `CALL_CLAIM_TTL_S`, so neither the claim nor the
config can expire while the call runs.
"""

import hashlib
import re
from typing import Final

from ori_contracts.ids import ID_PATTERN

__all__ = [
    "ACTIVE_CALL_STALE_AFTER_S",
    "CALL_CLAIM_TTL_S",
    "CAMPAIGN_LEASE_RENEW_INTERVAL_S",
    "CAMPAIGN_LEASE_TTL_S",
    "INBOUND_ANSWER_TTL_S",
    "LOGIN_FAILURES_TTL_S",
    "PREFIX",
    "RATE_LIMIT_WINDOW_S",
    "RUNTIME_CONFIG_TTL_S",
    "WORKER_HEARTBEAT_INTERVAL_S",
    "WORKER_TTL_S",
    "call_claim",
    "call_results_stream",
    "campaign_lease",
    "livekit_dispatch",
    "login_failures",
    "pool_active_calls",
    "pool_idle_workers",
    "rate_limit",
    "runtime_config",
    "twilio_answer",
    "worker",
]

PREFIX: Final = "ori"

RUNTIME_CONFIG_TTL_S: Final = 3600
CALL_CLAIM_TTL_S: Final = 3600
INBOUND_ANSWER_TTL_S: Final = 600
WORKER_TTL_S: Final = 15
WORKER_HEARTBEAT_INTERVAL_S: Final = 5
ACTIVE_CALL_STALE_AFTER_S: Final = 15
CAMPAIGN_LEASE_TTL_S: Final = 30
CAMPAIGN_LEASE_RENEW_INTERVAL_S: Final = 10
LOGIN_FAILURES_TTL_S: Final = 900
RATE_LIMIT_WINDOW_S: Final = 60

_ID = re.compile(ID_PATTERN)
_FACET = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a safe id (pattern {ID_PATTERN})")
    return value


def _key(entity: str, entity_id: str, facet: str) -> str:
    return f"{PREFIX}:{entity}:{_id(entity_id, entity + ' id')}:{facet}"


def runtime_config(call_id: str) -> str:
    """Key of the call's `RuntimeConfig` JSON, written by the backend, read by the worker."""
    return _key("call", call_id, "runtime-config")


def call_claim(call_id: str) -> str:
    """Key holding the id of the worker the call was allocated to (`SET NX`)."""
    return _key("call", call_id, "claim")


def worker(worker_id: str) -> str:
    """Key of a worker's registration hash, kept alive by its heartbeat."""
    return _key("worker", worker_id, "registration")


def pool_idle_workers(pool: str) -> str:
    """Key of the sorted set of a fleet pool's idle workers, scored by last heartbeat."""
    return _key("pool", pool, "idle-workers")


def pool_active_calls(pool: str) -> str:
    """Key of the sorted set of a fleet pool's active calls, scored by last heartbeat."""
    return _key("pool", pool, "active-calls")


def campaign_lease(campaign_id: str) -> str:
    """Key of the lease that lets one dialler instance pace a campaign."""
    return _key("campaign", campaign_id, "lease")


def login_failures(identity: str) -> str:
    """Key counting failed logins for an identity (email or username).

    The identity is case-folded and hashed, so the key holds no personal data and any
    string is safe.

    Raises:
        ValueError: If the identity is empty or only whitespace.
    """
    normalised = identity.strip().casefold()
    if not normalised:
        raise ValueError("login identity must not be empty")
    digest = hashlib.sha256(normalised.encode()).hexdigest()
    return f"{PREFIX}:login:{digest}:failures"


def livekit_dispatch(room: str, participant_sid: str) -> str:
    """Key holding the call id a LiveKit SIP caller was dispatched as (`SET NX`).

    Room names are LiveKit's (any string), so the pair is hashed: any value is safe.
    """
    digest = hashlib.sha256(f"{room}\n{participant_sid}".encode()).hexdigest()
    return f"{PREFIX}:livekit:{digest}:dispatch"


def twilio_answer(call_sid: str) -> str:
    """Key holding the TwiML a Twilio call's voice webhook was answered with (`SET NX`)."""
    digest = hashlib.sha256(call_sid.encode()).hexdigest()
    return f"{PREFIX}:twilio:{digest}:answer"


def rate_limit(scope: str, subject: str) -> str:
    """Key counting a subject's requests in the current window.

    Args:
        scope: What kind of subject is limited, kebab-case, e.g. `api-key` or `workspace`.
        subject: The subject's id.

    Raises:
        ValueError: If the scope is not kebab-case or the subject not a safe id.
    """
    if not _FACET.fullmatch(scope):
        raise ValueError(f"rate-limit scope {scope!r} must be kebab-case")
    return _key(scope, subject, "rate-limit")


def call_results_stream() -> str:
    """Key of the stream workers append `CallResult`s to and the backend consumes."""
    return f"{PREFIX}:call-results"

"""Redis key builders: the documented format, and no key injection."""

from collections.abc import Callable

import pytest

from ori_contracts import redis_keys
from ori_contracts.testing import DEMO_CALL_ID

pytestmark = pytest.mark.unit

ID_BUILDERS: list[Callable[[str], str]] = [
    redis_keys.runtime_config,
    redis_keys.call_claim,
    redis_keys.worker,
    redis_keys.pool_idle_workers,
    redis_keys.pool_active_calls,
    redis_keys.campaign_lease,
]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (redis_keys.runtime_config(DEMO_CALL_ID), f"ori:call:{DEMO_CALL_ID}:runtime-config"),
        (redis_keys.call_claim(DEMO_CALL_ID), f"ori:call:{DEMO_CALL_ID}:claim"),
        (redis_keys.worker("ori-worker-0"), "ori:worker:ori-worker-0:registration"),
        (redis_keys.pool_idle_workers("default"), "ori:pool:default:idle-workers"),
        (redis_keys.pool_active_calls("default"), "ori:pool:default:active-calls"),
        (redis_keys.campaign_lease("spring-2026"), "ori:campaign:spring-2026:lease"),
        (redis_keys.rate_limit("api-key", "key_123"), "ori:api-key:key_123:rate-limit"),
        (redis_keys.call_results_stream(), "ori:call-results"),
    ],
)
def test_keys_follow_the_documented_format(key: str, expected: str) -> None:
    assert key == expected


@pytest.mark.parametrize("builder", ID_BUILDERS)
@pytest.mark.parametrize("bad", ["a:b", "", "*", "a b", "a\nb", "x:*:runtime-config", "-a"])
def test_builders_reject_unsafe_ids(builder: Callable[[str], str], bad: str) -> None:
    with pytest.raises(ValueError, match="not a safe id"):
        builder(bad)


@pytest.mark.parametrize(("scope", "subject"), [("API_KEY", "k"), ("a:b", "k"), ("api-key", "a:b")])
def test_rate_limit_rejects_bad_scope_or_subject(scope: str, subject: str) -> None:
    with pytest.raises(ValueError, match="kebab-case|not a safe id"):
        redis_keys.rate_limit(scope, subject)


def test_login_failures_hashes_the_normalised_identity() -> None:
    key = redis_keys.login_failures("  Jordan.Lee@Example.com ")
    assert key == redis_keys.login_failures("jordan.lee@example.com")
    assert key.startswith("ori:login:") and key.endswith(":failures")
    assert "example" not in key
    assert len(key.split(":")) == 4


@pytest.mark.parametrize("bad", ["", "   "])
def test_login_failures_rejects_an_empty_identity(bad: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        redis_keys.login_failures(bad)


def test_worker_heartbeat_beats_several_times_per_ttl() -> None:
    assert redis_keys.WORKER_TTL_S >= 3 * redis_keys.WORKER_HEARTBEAT_INTERVAL_S
    assert redis_keys.CAMPAIGN_LEASE_TTL_S >= 3 * redis_keys.CAMPAIGN_LEASE_RENEW_INTERVAL_S


def test_config_outlives_the_claim_window() -> None:
    assert redis_keys.RUNTIME_CONFIG_TTL_S >= redis_keys.CALL_CLAIM_TTL_S

"""The services' settings match the deployment inventory: names, defaults and required-ness."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from ori_backend.settings import BackendSettings
from ori_dialler.settings import DiallerSettings
from ori_worker.settings import WorkerSettings

pytestmark = pytest.mark.unit

REQUIRED = object()
IF = object()  # required only under a condition (provider used, tracing enabled, ...)

# name -> default (REQUIRED when the service refuses to boot without it), from the inventory.
BACKEND = {
    "MONGODB_URI": REQUIRED,
    "MONGODB_DB": REQUIRED,
    "REDIS_URL": REQUIRED,
    "JWT_SECRET": REQUIRED,
    "JWT_ALGORITHM": "HS256",
    "JWT_EXPIRE_MINUTES": 1440,
    "VOXCORE_WSS_BASE_URL": REQUIRED,
    "LOG_LEVEL": "INFO",
}
WORKER = {
    "VOXBRIDGE_CONFIG_URL": REQUIRED,
    "SONIOX_API_KEY": IF,
    "DEEPGRAM_API_KEY": IF,
    "OPENAI_API_KEY": IF,
    "GOOGLE_API_KEY": IF,
    "ELEVENLABS_API_KEY": IF,
    "SARVAM_API_KEY": IF,
    "MINIO_ENDPOINT": REQUIRED,
    "MINIO_ACCESS_KEY": REQUIRED,
    "MINIO_SECRET_KEY": REQUIRED,
    "MINIO_BUCKET": REQUIRED,
    "MINIO_SECURE": False,
    "MAX_CONCURRENT_CALLS": REQUIRED,
    "AUDIO_SAMPLE_RATE": 16000,
    "LOG_LEVEL": "INFO",
    "OTEL_ENABLED": False,
    "OTEL_PROTOCOL": "http/protobuf",
    "OTEL_ENDPOINT": IF,
    "OTEL_SERVICE_NAME": "voice-fleet",
    "OTEL_API_KEY": IF,
    "OTEL_HEADERS": None,
}
DIALLER = {
    "MONGODB_URI": REQUIRED,
    "MONGODB_DB": REQUIRED,
    "FLEET_URLS": REQUIRED,
    "VOXCORE_SECRET": REQUIRED,
    "LIVEKIT_URL": REQUIRED,
    "LIVEKIT_API_KEY": REQUIRED,
    "LIVEKIT_API_SECRET": REQUIRED,
    "LIVEKIT_TRUNK_ID": REQUIRED,
    "LOOP_INTERVAL_SECONDS": 2.0,
    "LOG_LEVEL": "INFO",
    "HEALTH_HOST": "127.0.0.1",
    "HEALTH_PORT": 8090,
    "HEALTH_STALE_SECONDS": 30.0,
    "STALE_IN_PROGRESS_TIMEOUT_MINUTES": 10,
    "METRICS_PERSIST_INTERVAL_SECONDS": 15.0,
    "CIRCUIT_FAILURE_THRESHOLD": 5,
    "CIRCUIT_COOLDOWN_SECONDS": 30.0,
    "CIRCUIT_SUCCESS_THRESHOLD": 2,
}


@pytest.mark.parametrize(
    ("settings", "inventory"),
    [(BackendSettings, BACKEND), (WorkerSettings, WORKER), (DiallerSettings, DIALLER)],
    ids=["backend", "worker", "dialler"],
)
def test_every_inventory_variable_exists_with_its_default(
    settings: type[BaseSettings], inventory: dict[str, object]
) -> None:
    fields = {name.upper(): info for name, info in settings.model_fields.items()}
    for name, expected in inventory.items():
        assert name in fields, f"{name} is missing from {settings.__name__}"
        info = fields[name]
        if expected is REQUIRED:
            assert info.is_required(), f"{name} must be required"
        elif expected is IF:
            assert not info.is_required(), f"{name} must not block start-up"
        else:
            assert not info.is_required(), f"{name} must have a default"
            assert info.default == expected, f"{name} default {info.default!r} != {expected!r}"


def test_dialler_has_eighteen_variables_and_backend_its_eight() -> None:
    assert len(DIALLER) == 18
    assert len(BACKEND) == 8
    assert set(DIALLER) == {n.upper() for n in DiallerSettings.model_fields}

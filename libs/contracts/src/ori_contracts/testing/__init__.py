"""Factories for valid, deterministic contracts, shared by every test suite.

The defaults describe one outbound call of an appointment-booking demo bot for a dental
clinic, run entirely on offline providers (PocketSphinx, the scripted LLM, eSpeak NG, a plain
WebSocket peer). Ids and times are fixed, so `model_dump(mode="json")` of a factory's output
is stable and is checked against the golden fixtures in `libs/contracts/tests/fixtures/`.

Overrides replace top-level fields and are validated like any input:

    cfg = make_runtime_config(direction=CallDirection.INBOUND, campaign_id=None)
"""

from ori_contracts.testing.call_result import make_call_result
from ori_contracts.testing.demo import (
    DEMO_BOT_ID,
    DEMO_CALL_ID,
    DEMO_CAMPAIGN_ID,
    DEMO_CLINIC,
    DEMO_CLINIC_NUMBER,
    DEMO_CONTACT_ID,
    DEMO_CONTACT_NUMBER,
    DEMO_WORKER_ID,
    DEMO_WORKSPACE_ID,
)
from ori_contracts.testing.runtime_config import make_runtime_config

__all__ = [
    "DEMO_BOT_ID",
    "DEMO_CALL_ID",
    "DEMO_CAMPAIGN_ID",
    "DEMO_CLINIC",
    "DEMO_CLINIC_NUMBER",
    "DEMO_CONTACT_ID",
    "DEMO_CONTACT_NUMBER",
    "DEMO_WORKER_ID",
    "DEMO_WORKSPACE_ID",
    "make_call_result",
    "make_runtime_config",
]

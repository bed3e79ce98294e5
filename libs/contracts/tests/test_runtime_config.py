"""RuntimeConfig validation: each rule rejects what it should and accepts the demo config."""

from typing import Any

import pytest
from pydantic import ValidationError

from ori_contracts import (
    EndCallTool,
    HttpTool,
    RuntimeConfig,
    SecretRef,
    SttConfig,
    SttProvider,
    TurnConfig,
    TurnStrategy,
)
from ori_contracts.redis_keys import CALL_CLAIM_TTL_S
from ori_contracts.testing import make_runtime_config

pytestmark = pytest.mark.unit


def _document() -> dict[str, Any]:
    return make_runtime_config().model_dump(mode="json")


def _rejects(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RuntimeConfig.model_validate(document)


def test_runtime_config_rejects_bad_contact_phone() -> None:
    document = _document()
    document["contact"]["phone"] = "415-555-0142"
    _rejects(document, "contact.phone")


def test_runtime_config_rejects_duplicate_tool_names() -> None:
    document = _document()
    document["tools"].append({"type": "end_call"})
    _rejects(document, "duplicate tool name: end_call")


def test_runtime_config_accepts_two_transfer_tools_with_distinct_names() -> None:
    document = _document()
    document["tools"].append(
        {
            "type": "transfer_call",
            "name": "transfer_to_billing",
            "target": "sip:billing@pbx.example.com",
        }
    )
    assert len(RuntimeConfig.model_validate(document).tools) == 6


def test_runtime_config_rejects_unknown_tool_type() -> None:
    document = _document()
    document["tools"].append({"type": "send_sms", "name": "sms"})
    _rejects(document, "does not match any of the expected tags")


def test_runtime_config_rejects_default_disposition_not_in_list() -> None:
    _rejects(_document() | {"default_disposition": "sale"}, "'sale' is not in dispositions")


def test_runtime_config_requires_default_disposition_when_dispositions_exist() -> None:
    _rejects(_document() | {"default_disposition": None}, "default_disposition is required")


def test_runtime_config_rejects_duplicate_disposition_codes() -> None:
    document = _document()
    document["dispositions"].append(document["dispositions"][0])
    _rejects(document, "duplicate disposition code: appointment_booked")


@pytest.mark.parametrize("section", ["stt", "llm", "tts"])
def test_runtime_config_rejects_unknown_provider(section: str) -> None:
    document = _document()
    document[section]["provider"] = "whisperx"
    _rejects(document, f"{section}.provider")


def test_runtime_config_rejects_unknown_telephony_provider() -> None:
    _rejects(_document() | {"telephony_provider": "skype"}, "telephony_provider")


@pytest.mark.parametrize("seconds", [-1, 0, CALL_CLAIM_TTL_S + 1])
def test_runtime_config_rejects_max_duration_out_of_range(seconds: int) -> None:
    document = _document()
    document["limits"]["max_duration_s"] = seconds
    _rejects(document, "limits.max_duration_s")


def test_runtime_config_rejects_idle_timeout_before_silence_prompt() -> None:
    document = _document()
    document["limits"]["idle_timeout_s"] = 5.0
    _rejects(document, "idle_timeout_s must be greater")


def test_scripted_provider_requires_a_script() -> None:
    document = _document()
    document["llm"]["scripted"] = None
    _rejects(document, "requires a `scripted` section")


def test_script_is_rejected_for_other_providers() -> None:
    document = _document()
    document["llm"]["provider"] = "openai"
    _rejects(document, "only valid with provider 'scripted'")


def test_scripted_rule_must_call_a_configured_tool() -> None:
    document = _document()
    document["llm"]["scripted"]["rules"][0]["tool"] = "launch_rockets"
    _rejects(document, "unknown tool 'launch_rockets'")


def test_scripted_rule_arguments_need_a_tool() -> None:
    document = _document()
    document["llm"]["scripted"]["rules"][0]["tool_arguments"] = {"x": 1}
    _rejects(document, "tool_arguments is set but tool is not")


def test_search_knowledge_must_use_configured_knowledge_bases() -> None:
    document = _document()
    document["knowledge_bases"] = []
    _rejects(document, r"unknown knowledge bases \['kb-clinic-faq'\]")


def test_provider_turns_need_an_stt_that_detects_turns() -> None:
    _rejects(_document() | {"turn": {"strategy": "provider"}}, "not supported by STT pocketsphinx")


def test_provider_turns_are_accepted_with_deepgram_flux() -> None:
    config = make_runtime_config(
        stt=SttConfig(provider=SttProvider.DEEPGRAM_FLUX),
        turn=TurnConfig(strategy=TurnStrategy.PROVIDER),
    )
    assert config.turn.strategy is TurnStrategy.PROVIDER


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "X-Auth-Token", "Cookie"])
def test_http_tool_rejects_inline_credentials(header: str) -> None:
    with pytest.raises(ValidationError, match="use a SecretRef"):
        HttpTool(
            name="crm",
            description="Look up the CRM.",
            url="https://crm.example.com",
            headers={header: "s3cr3t"},
        )


def test_http_tool_accepts_secret_refs_and_plain_headers() -> None:
    tool = HttpTool(
        name="crm",
        description="Look up the CRM.",
        url="https://crm.example.com",
        headers={
            "Authorization": SecretRef(name="crm-api", key="token"),
            "Accept": "application/json",
        },
    )
    assert isinstance(tool.headers["Authorization"], SecretRef)


@pytest.mark.parametrize("name", ["visit reason", "1st_visit", "visit-reason", ""])
def test_analysis_field_names_must_be_identifiers(name: str) -> None:
    document = _document()
    document["analysis_fields"][0]["name"] = name
    _rejects(document, "analysis_fields.0.name")


def test_analysis_field_names_must_be_unique() -> None:
    document = _document()
    document["analysis_fields"][1]["name"] = "appointment_booked"
    _rejects(document, "duplicate analysis field name: appointment_booked")


def test_enum_analysis_field_needs_values() -> None:
    document = _document()
    document["analysis_fields"][2]["enum_values"] = []
    _rejects(document, "needs enum_values")


def test_must_say_rule_needs_phrases() -> None:
    document = _document()
    document["qc_rules"][0]["phrases"] = []
    _rejects(document, "needs phrases")


def test_max_silence_rule_needs_a_threshold() -> None:
    document = _document()
    document["qc_rules"][3]["max_silence_s"] = None
    _rejects(document, "needs max_silence_s")


def test_qc_rule_ids_must_be_unique() -> None:
    document = _document()
    document["qc_rules"][1]["id"] = "states-clinic-name"
    _rejects(document, "duplicate QC rule id: states-clinic-name")


def test_builtin_tools_have_usable_defaults() -> None:
    tool = EndCallTool()
    assert (tool.type, tool.name) == ("end_call", "end_call")
    assert tool.description


def test_minimal_config_gets_pipecat_vad_defaults() -> None:
    config = make_runtime_config(vad={})
    assert (
        config.vad.confidence,
        config.vad.start_s,
        config.vad.stop_s,
        config.vad.min_volume,
    ) == (
        0.7,
        0.2,
        0.2,
        0.6,
    )

"""The CRD models and their rendering: structural schemas, and agreement with the samples."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from ori_contracts import bot_spec
from ori_contracts.crds import (
    BOT,
    FLEETPOOL,
    RESOURCES,
    BotSpec,
    CampaignSpec,
    FleetPoolSpec,
    render_crd,
)
from ori_contracts.crds.render import structural_schema

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "crds" / "samples"
SPEC_MODELS: dict[str, type[BaseModel]] = {
    "Bot": BotSpec,
    "Campaign": CampaignSpec,
    "FleetPool": FleetPoolSpec,
}
# What the API server accepts in a v1 CRD schema node (plus x-kubernetes-* extensions).
ALLOWED_KEYS = {
    "description", "type", "format", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "multipleOf", "enum",
    "maxProperties", "minProperties", "required", "items", "properties", "additionalProperties",
    "nullable", "anyOf",
}  # fmt: skip


def schema_nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from schema_nodes(node[key], f"{path}[{key}]")


def open_api_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.kind)
def test_rendered_schema_is_structural(resource: Any) -> None:
    for path, node in schema_nodes(open_api_schema(render_crd(resource))):
        extra = {k for k in node if not k.startswith("x-kubernetes-")} - ALLOWED_KEYS
        assert not extra, f"{path}: keys the API server refuses: {extra}"
        assert (
            "type" in node
            or node.get("x-kubernetes-preserve-unknown-fields")
            or node.get("x-kubernetes-int-or-string")
        ), f"{path}: a structural schema needs a type"
        assert not ("properties" in node and "additionalProperties" in node), path
        for branch in node.get("anyOf", []):
            assert not {"type", "description", "default"} & set(branch), path


def test_rendering_inlines_every_reference() -> None:
    for resource in RESOURCES:
        assert "$ref" not in repr(render_crd(resource))


def test_nullable_optional_and_int_or_string() -> None:
    schema = structural_schema(FleetPoolSpec.model_json_schema(by_alias=True))
    template = schema["properties"]["template"]["properties"]
    assert template["service_account_name"]["nullable"] is True
    quantity = template["resources"]["properties"]["requests"]["additionalProperties"]
    assert quantity["x-kubernetes-int-or-string"] is True


def test_tool_union_becomes_one_object_with_a_rule_per_variant() -> None:
    tools = open_api_schema(render_crd(BOT))["properties"]["spec"]["properties"]["tools"]
    item = tools["items"]
    assert item["required"] == ["type"]
    assert set(item["properties"]["type"]["enum"]) == {
        "end_call", "transfer_call", "detected_voicemail", "search_knowledge", "http",
    }  # fmt: skip
    rules = {rule["rule"] for rule in item["x-kubernetes-validations"]}
    assert "self.type != 'transfer_call' || (has(self.target))" in rules


def test_fleetpool_has_scale_with_a_label_selector_path() -> None:
    version = render_crd(FLEETPOOL)["spec"]["versions"][0]
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    assert version["subresources"]["status"] == {}
    assert "fp" in render_crd(FLEETPOOL)["spec"]["names"]["shortNames"]


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_valid_samples_pass_the_models(path: Path) -> None:
    for doc in documents(path):
        if doc["kind"] in SPEC_MODELS:
            SPEC_MODELS[doc["kind"]].model_validate(doc["spec"])


@pytest.mark.parametrize("path", sorted((SAMPLES / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_invalid_samples_fail_the_models_too(path: Path) -> None:
    (doc,) = documents(path)
    with pytest.raises(ValidationError):
        SPEC_MODELS[doc["kind"]].model_validate(doc["spec"])


def test_every_invalid_sample_states_the_error_it_expects() -> None:
    for path in (SAMPLES / "invalid").glob("*.yaml"):
        assert path.read_text().startswith("# expect: "), path.name


def test_bot_spec_is_the_backend_bot_spec_named_after_the_resource() -> None:
    (doc,) = documents(SAMPLES / "bot-cloud.yaml")
    del doc["spec"]["name"]
    backend = BotSpec.model_validate(doc["spec"]).for_backend("sales-qualifier")
    assert isinstance(backend, bot_spec.BotSpec)
    assert backend.name == "sales-qualifier"
    config = backend.to_runtime_config(
        call_id="call_1", bot_id="b1", bot_version=3, workspace_id="w1",
        direction="inbound", telephony_provider="twilio",
    )  # fmt: skip
    assert (config.bot_version, config.llm.model) == (3, "gpt-4.1-mini")


def test_bot_spec_refuses_a_credential_under_any_option_name() -> None:
    (doc,) = documents(SAMPLES / "bot.yaml")
    doc["spec"]["tts"]["options"] = {"X-Api-Key": "k"}
    with pytest.raises(ValidationError, match="provider credentials must not be inline"):
        BotSpec.model_validate(doc["spec"])


def test_fleetpool_desired_replicas_defaults_to_min_and_stays_in_bounds() -> None:
    spec = FleetPoolSpec.model_validate({"min_replicas": 2, "template": {"image": "w"}})
    assert spec.desired_replicas() == 2
    spec = FleetPoolSpec.model_validate(
        {"replicas": 7, "max_replicas": 9, "template": {"image": "w"}}
    )
    assert spec.desired_replicas() == 7

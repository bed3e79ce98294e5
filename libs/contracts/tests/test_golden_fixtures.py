"""Golden fixtures: the JSON shape of each contract is pinned, so any change is deliberate."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from ori_contracts import CallResult, RuntimeConfig, dump_json_schemas
from ori_contracts.testing import make_call_result, make_runtime_config

pytestmark = pytest.mark.unit

Check = Callable[[str, Any], None]

FULL = [
    ("runtime_config.v1.json", RuntimeConfig, make_runtime_config),
    ("call_result.v1.json", CallResult, make_call_result),
]
MINIMAL = [
    ("runtime_config.v1.minimal.json", RuntimeConfig),
    ("call_result.v1.minimal.json", CallResult),
]
SCHEMAS = [
    ("runtime_config.v1.schema.json", "RuntimeConfig"),
    ("call_result.v1.schema.json", "CallResult"),
]


@pytest.mark.parametrize(("name", "model", "factory"), FULL)
def test_factory_output_matches_golden(
    golden: Check, name: str, model: type[BaseModel], factory: Any
) -> None:
    golden(name, factory().model_dump(mode="json"))


@pytest.mark.parametrize(("name", "model", "factory"), FULL)
def test_golden_parses_back_to_factory_output(
    golden: Check, fixtures_dir: Path, name: str, model: type[BaseModel], factory: Any
) -> None:
    parsed = model.model_validate_json((fixtures_dir / name).read_text(encoding="utf-8"))
    assert parsed == factory()


@pytest.mark.parametrize(("name", "model"), MINIMAL)
def test_minimal_fixture_parses_with_pinned_defaults(
    golden: Check, fixtures_dir: Path, name: str, model: type[BaseModel]
) -> None:
    parsed = model.model_validate_json((fixtures_dir / name).read_text(encoding="utf-8"))
    golden(name.replace(".json", ".expanded.json"), parsed.model_dump(mode="json"))


def _add_unknown_fields(document: dict[str, Any]) -> dict[str, Any]:
    future = copy.deepcopy(document)
    future["field_from_the_future"] = {"nested": [1, 2, 3]}
    for value in future.values():
        if isinstance(value, dict):
            value["another_future_field"] = "ignored"
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            value[0]["another_future_field"] = True
    return future


@pytest.mark.parametrize(("name", "model", "factory"), FULL)
def test_reader_ignores_fields_it_does_not_know(
    golden: Check, fixtures_dir: Path, name: str, model: type[BaseModel], factory: Any
) -> None:
    future = _add_unknown_fields(json.loads((fixtures_dir / name).read_text(encoding="utf-8")))
    assert model.model_validate(future) == factory()


@pytest.mark.parametrize(("name", "title"), SCHEMAS)
def test_json_schema_matches_snapshot(golden: Check, name: str, title: str) -> None:
    golden(name, dump_json_schemas()[title])


def test_dump_json_schemas_covers_the_top_level_contracts() -> None:
    assert set(dump_json_schemas()) == {"RuntimeConfig", "CallResult"}

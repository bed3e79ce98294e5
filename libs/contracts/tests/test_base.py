"""The evolution rule: major schema_version checks, immutability, unknown fields ignored."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ori_contracts import (
    CALL_RESULT_SCHEMA_VERSION,
    RUNTIME_CONFIG_SCHEMA_VERSION,
    CallResult,
    RuntimeConfig,
)
from ori_contracts.base import ContractModel, check_schema_version
from ori_contracts.testing import make_call_result, make_runtime_config

pytestmark = pytest.mark.unit

CONTRACTS = [
    (RuntimeConfig, make_runtime_config, RUNTIME_CONFIG_SCHEMA_VERSION),
    (CallResult, make_call_result, CALL_RESULT_SCHEMA_VERSION),
]


@pytest.mark.parametrize(("model", "factory", "current"), CONTRACTS)
def test_schema_version_defaults_to_current(
    model: type[BaseModel], factory: Any, current: int
) -> None:
    document = factory().model_dump(mode="json")
    del document["schema_version"]
    assert model.model_validate(document).schema_version == current  # type: ignore[attr-defined]


@pytest.mark.parametrize(("model", "factory", "current"), CONTRACTS)
def test_newer_major_version_is_rejected(
    model: type[BaseModel], factory: Any, current: int
) -> None:
    document = factory().model_dump(mode="json") | {"schema_version": current + 1}
    with pytest.raises(ValidationError, match="newer than this reader"):
        model.model_validate(document)


@pytest.mark.parametrize("bad", [0, -1, True, "1"])
@pytest.mark.parametrize(("model", "factory", "current"), CONTRACTS)
def test_invalid_schema_version_is_rejected(
    model: type[BaseModel], factory: Any, current: int, bad: object
) -> None:
    document = factory().model_dump(mode="json") | {"schema_version": bad}
    with pytest.raises(ValidationError):
        model.model_validate(document)


def test_check_schema_version_accepts_older_and_current() -> None:
    assert check_schema_version(1, current=2, contract="X") == 1
    assert check_schema_version(2, current=2, contract="X") == 2


def test_contracts_are_frozen() -> None:
    config = make_runtime_config()
    with pytest.raises(ValidationError):
        config.bot_version = 4  # type: ignore[misc]


def test_model_copy_with_update_keeps_other_fields() -> None:
    config = make_runtime_config()
    assert config.model_copy(update={"bot_version": 4}).bot_id == config.bot_id


def _contract_models() -> list[type[ContractModel]]:
    found: list[type[ContractModel]] = []
    pending = list(ContractModel.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def test_every_contract_field_has_a_description() -> None:
    models = _contract_models()
    assert RuntimeConfig in models and CallResult in models
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert missing == []

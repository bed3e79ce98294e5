"""JSON Schemas of the top-level contracts, for docs, OpenAPI and drift checks."""

from typing import Any

from ori_contracts.call_result import CallResult
from ori_contracts.runtime_config import RuntimeConfig

__all__ = ["dump_json_schemas"]


def dump_json_schemas() -> dict[str, dict[str, Any]]:
    """Return the validation JSON Schema of each top-level contract, keyed by model name."""
    return {model.__name__: model.model_json_schema() for model in (RuntimeConfig, CallResult)}

"""Shared helpers for the contracts tests: the golden-file checker.

Golden files live in `fixtures/`. To rewrite them after an intended contract change, run

    ORI_UPDATE_GOLDEN=1 uv run pytest libs/contracts

then review the diff: a changed golden file is a changed contract. Hand-written input fixtures
(`*.minimal.json`) are never rewritten.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
UPDATE_GOLDEN_ENV = "ORI_UPDATE_GOLDEN"


def updating_golden() -> bool:
    """Whether this run rewrites golden files instead of checking them."""
    return os.environ.get(UPDATE_GOLDEN_ENV) == "1"


def to_json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def check_golden(name: str, actual: Any) -> None:
    """Assert `actual` equals the golden file `fixtures/<name>`, or rewrite it when updating."""
    path = FIXTURES / name
    if updating_golden():
        path.write_text(to_json_text(actual), encoding="utf-8")
        return
    assert path.exists(), f"{name} is missing; run with {UPDATE_GOLDEN_ENV}=1 to create it"
    assert actual == json.loads(path.read_text(encoding="utf-8")), f"{name} differs"
    assert to_json_text(actual) == path.read_text(encoding="utf-8"), (
        f"{name}: types or order differ"
    )


@pytest.fixture
def golden() -> Callable[[str, Any], None]:
    """The golden-file checker; see `check_golden`."""
    return check_golden


@pytest.fixture
def fixtures_dir() -> Path:
    """The directory holding input fixtures and golden files."""
    return FIXTURES

"""The import-boundary contracts in pyproject.toml catch violations (and the tree keeps them)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def write_config(dest: Path) -> Path:
    """Copy the repository's [tool.importlinter] section into a standalone config."""
    section = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {_toml(v)}" for k, v in section.items() if k != "contracts"]
    for contract in section["contracts"]:
        lines.append("\n[[tool.importlinter.contracts]]")
        lines += [f"{k} = {_toml(v)}" for k, v in contract.items()]
    path = dest / "importlinter.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"'


def make_tree(root: Path, imports: dict[str, str]) -> None:
    for package in ("ori_contracts", "ori_backend", "ori_worker", "ori_dialler", "ori_operator"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text(imports.get(package, ""))


def run_lint(tree: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_contracts_importing_a_framework_is_caught(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ori_contracts": "import redis\n"})
    result = run_lint(tmp_path, write_config(tmp_path))
    assert result.returncode == 1
    assert "ori_contracts imports no service and no framework BROKEN" in result.stdout


def test_a_service_importing_another_is_caught(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ori_backend": "import ori_worker\n"})
    result = run_lint(tmp_path, write_config(tmp_path))
    assert result.returncode == 1
    assert "services do not import each other BROKEN" in result.stdout


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ori_backend": "import ori_contracts\n"})
    result = run_lint(tmp_path, write_config(tmp_path))
    assert result.returncode == 0, result.stdout

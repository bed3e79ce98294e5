"""Under CI a skip fails the run; elsewhere it stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SKIPPING = """
import pytest
def test_needs_a_server():
    pytest.skip("redis-server not found")
"""


def run(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": "1"} if ci else {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "ori_e2e.no_skip",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_skipping.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_skip_fails_under_ci(tmp_path: Path) -> None:
    result = run(tmp_path, ci=True)
    assert result.returncode == 1
    assert (
        "skipped under CI, which allows no skips: Skipped: redis-server not found" in result.stdout
    )


def test_a_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    result = run(tmp_path, ci=False)
    assert result.returncode == 0
    assert "1 skipped" in result.stdout

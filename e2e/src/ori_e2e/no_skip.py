"""Pytest plugin: under CI (``CI`` set), a skipped test is a failed test.

A test that needs a server starts it; if the server cannot start, the run must say so rather
than quietly skip. Outside CI, skips are reported as usual.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


def _strict() -> bool:
    return bool(os.environ.get("CI"))


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which allows no skips: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, None]:
    """Turn a test's skip into a failure under CI."""
    outcome = yield
    if _strict():
        _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report() -> Generator[None, pytest.CollectReport, None]:
    """Turn a module-level skip (``importorskip``, module-level ``skip``) into a failure."""
    outcome = yield
    if _strict():
        _fail_skip(outcome.get_result())

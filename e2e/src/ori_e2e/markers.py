"""Pytest plugin: every test carries exactly one tier marker, ``unit``, ``integration`` or ``e2e``.

`make unit` selects ``-m unit``; a test without a tier would silently fall out of it, so
collection fails instead.
"""

from __future__ import annotations

import pytest

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fail collection when a test has no tier marker or more than one."""
    bad = []
    for item in items:
        tiers = {m.name for m in item.iter_markers() if m.name in TIERS}
        if len(tiers) != 1:
            bad.append(f"{item.nodeid}: {sorted(tiers) or 'no tier marker'}")
    if bad:
        listing = "\n  ".join(bad)
        raise pytest.UsageError(f"each test needs exactly one of {TIERS}:\n  {listing}")

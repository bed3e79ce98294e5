"""Ids derived from a reference: stable across releases, distinct across workspaces and kinds."""

from __future__ import annotations

import pytest

from ori_backend.security import derived_id

pytestmark = pytest.mark.unit


def test_a_reference_always_names_the_same_record() -> None:
    # Pinned: campaigns and bots the operator created before keep their ids after an upgrade.
    assert derived_id("cmp_k8s", "ws_0123", "default.spring-recall") == (
        "cmp_k8s_cd1db09496331c135481c9c6"
    )
    assert derived_id("cmp", "ws_0123", "idempotency-key/k1") == "cmp_5326b163eb23720da13dc073"


def test_another_workspace_or_reference_names_another_record() -> None:
    ids = {
        derived_id("cmp", "ws_a", "k1"),
        derived_id("cmp", "ws_b", "k1"),
        derived_id("cmp", "ws_a", "k2"),
    }
    assert len(ids) == 3

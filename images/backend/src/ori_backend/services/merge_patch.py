"""JSON merge patch (RFC 7396): the body of ``PATCH`` requests. Pure code."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``target`` as RFC 7396 says, without changing either.

    An object patch merges member by member: ``null`` removes a member, an object merges
    into the member, anything else replaces it. A patch that is not an object replaces the
    target whole (so a list is always replaced, never merged).
    """
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged

"""OpenAPI descriptions of the error answers, shared by the routers."""

from __future__ import annotations

from typing import Any

from ori_backend.errors import Problem

__all__ = ["errors"]

_TEXT = {
    400: "Malformed input (encoding, file format).",
    401: "Missing, invalid, expired or revoked credentials.",
    403: "Authenticated, but the role is too low or the resource is read-only.",
    404: "No such resource in this workspace.",
    409: "The resource's state forbids this change.",
    413: "The upload is larger than MAX_UPLOAD_MB.",
    422: "The input failed validation; `details` lists each problem.",
    429: "Too many attempts; see Retry-After.",
    502: "A worker tried and failed (e.g. the phone call could not be placed).",
    503: "A dependency or capacity is not available now.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries for the given error statuses (401 and 422 always included)."""
    wanted = sorted({401, 422, *statuses})
    return {status: {"model": Problem, "description": _TEXT[status]} for status in wanted}

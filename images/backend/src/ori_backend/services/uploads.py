"""Request bodies read as a stream, refused as soon as they pass ``MAX_UPLOAD_MB``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from ori_backend.errors import PayloadTooLarge

__all__ = ["limited_stream"]


async def limited_stream(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    """Yield the body's chunks; raise once more than ``max_bytes`` arrived (or were announced).

    Raises:
        PayloadTooLarge: The body is larger than ``max_bytes``.
    """
    announced = request.headers.get("content-length", "")
    limit_mb = max_bytes // (1024 * 1024)
    if announced.isdigit() and int(announced) > max_bytes:
        raise PayloadTooLarge(f"the upload is larger than the {limit_mb} MiB limit (MAX_UPLOAD_MB)")
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise PayloadTooLarge(
                f"the upload is larger than the {limit_mb} MiB limit (MAX_UPLOAD_MB)"
            )
        if chunk:
            yield chunk

"""Recording links: presigned GET URLs to the S3-compatible store, valid for one hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from minio import Minio

from ori_backend.errors import NotFound, ServiceUnavailable
from ori_backend.schemas.calls import RecordingLink
from ori_backend.settings import BackendSettings
from ori_contracts.call_result import CallResult

__all__ = ["LINK_TTL", "open_storage", "recording_link"]

LINK_TTL: Final = timedelta(hours=1)


def open_storage(settings: BackendSettings) -> Minio | None:
    """An S3 client when ``MINIO_ENDPOINT`` is set, else None (recording links answer 503)."""
    if (
        not settings.minio_endpoint
        or not settings.minio_access_key
        or not settings.minio_secret_key
    ):
        return None
    return Minio(
        settings.minio_endpoint,
        access_key=settings.minio_access_key.get_secret_value(),
        secret_key=settings.minio_secret_key.get_secret_value(),
        secure=settings.minio_secure,
        region=settings.minio_region,  # known region: signing needs no round trip
    )


def recording_link(storage: Minio | None, result: CallResult | None, call_id: str) -> RecordingLink:
    """A one-hour link to the call's recording.

    Raises:
        NotFound: The call has no recording.
        ServiceUnavailable: No object storage is configured.
    """
    if result is None or result.recording is None:
        raise NotFound(f"call {call_id} has no recording")
    if storage is None:
        raise ServiceUnavailable("object storage is not configured (MINIO_ENDPOINT)")
    recording = result.recording
    url = storage.presigned_get_object(recording.bucket, recording.object_key, expires=LINK_TTL)
    return RecordingLink(
        url=url,
        expires_at=datetime.now(UTC) + LINK_TTL,
        format=recording.format.value,
        duration_ms=recording.duration_ms,
    )

"""Request bodies read as a stream, refused as soon as they pass ``MAX_UPLOAD_MB``.

An upload is either the raw body or the ``file`` part of a ``multipart/form-data`` body (what
an HTML form or ``curl -F file=@contacts.csv`` sends). Both stream: the multipart parser
(python-multipart) is fed chunk by chunk and hands on the file part's bytes as they arrive,
so neither form holds the whole body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ori_backend.errors import BadRequest, PayloadTooLarge, Unprocessable

__all__ = ["FILE_FIELD", "MULTIPART_FILE", "Upload", "limited_stream", "upload_chunks"]

FILE_FIELD: Final = "file"
"""The multipart field that carries the file."""

MULTIPART_FILE: Final[dict[str, Any]] = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
            "required": [FILE_FIELD],
        }
    }
}
"""The OpenAPI request-body content of a multipart upload."""


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


@dataclass
class Upload:
    """What is known about the uploaded file; filled in as the body is read."""

    filename: str | None = None
    content_type: str | None = None


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)
    in_file: bool = False
    found: bool = False
    ended: bool = False
    data: list[bytes] = field(default_factory=list)


async def upload_chunks(request: Request, max_bytes: int, upload: Upload) -> AsyncIterator[bytes]:
    """The uploaded file's bytes as they arrive: the raw body, or a multipart ``file`` part.

    Raises:
        PayloadTooLarge: The body is larger than ``max_bytes``.
        BadRequest: A multipart body that cannot be parsed.
        Unprocessable: A multipart body without a ``file`` part.
    """
    media, options = parse_options_header(request.headers.get("content-type", ""))
    if media != b"multipart/form-data":
        upload.content_type = request.headers.get("content-type")
        async for chunk in limited_stream(request, max_bytes):
            yield chunk
        return
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("a multipart/form-data body needs a boundary parameter")
    part = _Part()
    parser = MultipartParser(boundary, _callbacks(part, upload))
    try:
        async for chunk in limited_stream(request, max_bytes):
            parser.write(chunk)
            if part.data:
                yield b"".join(part.data)
                part.data.clear()
        parser.finalize()
    except MultipartParseError as error:
        raise BadRequest(f"malformed multipart body: {error}") from None
    if not part.ended:
        raise BadRequest("malformed multipart body: it ends before its closing boundary")
    if not part.found:
        raise Unprocessable(f"the multipart body has no {FILE_FIELD!r} part")


def _callbacks(part: _Part, upload: Upload) -> Any:
    def header_field(data: bytes, start: int, end: int) -> None:
        part.name += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        part.value += data[start:end]

    def header_end() -> None:
        part.headers[bytes(part.name).strip().lower()] = bytes(part.value).strip()
        part.name.clear()
        part.value.clear()

    def headers_finished() -> None:
        _, params = parse_options_header(part.headers.get(b"content-disposition", b""))
        if params.get(b"name") == FILE_FIELD.encode() and not part.found:
            part.in_file = part.found = True
            filename = params.get(b"filename")
            upload.filename = filename.decode("utf-8", "replace") if filename else None
            content_type = part.headers.get(b"content-type")
            upload.content_type = content_type.decode("latin-1") if content_type else None
        part.headers.clear()

    def part_data(data: bytes, start: int, end: int) -> None:
        if part.in_file:
            part.data.append(data[start:end])

    def part_end() -> None:
        part.in_file = False

    def end() -> None:
        part.ended = True

    return {
        "on_header_field": header_field,
        "on_header_value": header_value,
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": part_data,
        "on_part_end": part_end,
        "on_end": end,
    }

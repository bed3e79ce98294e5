"""Documents to text, and text to chunks. Pure functions (parsing runs in a thread)."""

from __future__ import annotations

import io
from typing import Final

from ori_backend.errors import BadRequest, Unprocessable

__all__ = ["KINDS", "chunk_text", "extract_text", "kind_of"]

KINDS: Final = {
    "txt": ("text/plain",),
    "md": ("text/markdown", "text/x-markdown"),
    "pdf": ("application/pdf",),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
}


def kind_of(filename: str, content_type: str | None) -> str:
    """The document kind from its extension, else its content type.

    Raises:
        Unprocessable: Neither names a supported kind.
    """
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in KINDS:
        return extension
    media = (content_type or "").split(";")[0].strip().lower()
    for kind, types in KINDS.items():
        if media in types:
            return kind
    raise Unprocessable(f"unsupported document {filename!r}: upload txt, md, pdf or docx")


def extract_text(kind: str, data: bytes) -> str:
    """The document's text.

    Raises:
        BadRequest: A text file that is not UTF-8.
        Unprocessable: A PDF or DOCX that cannot be read, or no text at all.
    """
    if kind in {"txt", "md"}:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise BadRequest(
                f"the file is not UTF-8 text (invalid byte at offset {error.start})"
            ) from None
    else:
        try:
            text = _pdf_text(data) if kind == "pdf" else _docx_text(data)
        except Exception as error:  # noqa: BLE001 - any parser failure means an unreadable file
            raise Unprocessable(f"cannot read this {kind.upper()} file: {error}") from None
    if not text.strip():
        raise Unprocessable("the document has no text")
    return text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _docx_text(data: bytes) -> str:
    from docx import Document

    return "\n\n".join(paragraph.text for paragraph in Document(io.BytesIO(data)).paragraphs)


def chunk_text(text: str, *, size: int = 800, overlap: int = 120) -> list[str]:
    """Split text into passages of about ``size`` characters, on paragraph and word boundaries.

    Consecutive passages share about ``overlap`` characters so an answer that spans a boundary
    is still found whole in one of them.
    """
    words = text.split()
    chunks: list[str] = []
    start = 0
    while start < len(words):
        length, end = 0, start
        while end < len(words) and (length + len(words[end]) + 1 <= size or end == start):
            length += len(words[end]) + 1
            end += 1
        chunks.append(" ".join(words[start:end]))
        if end >= len(words):
            break
        back, kept = end, 0
        while back > start + 1 and kept < overlap:
            back -= 1
            kept += len(words[back]) + 1
        start = back
    return chunks

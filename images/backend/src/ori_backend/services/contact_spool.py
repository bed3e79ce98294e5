"""A disk spool of validated contacts: written while the upload streams, read back in batches.

Validated rows wait here (BSON in an anonymous temporary file under ``TMPDIR``, removed when
closed) until the whole file is known to be valid, so the process holds one batch in memory,
never the file, and nothing reaches the database before every row has passed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

import bson
from bson.codec_options import CodecOptions

__all__ = ["Spool"]

_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


class Spool:
    """Append documents, then read them back in order, in batches."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="ori-contacts-")  # noqa: SIM115
        self.count = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._file.close()

    def write(self, docs: list[dict[str, Any]]) -> None:
        """Append documents."""
        self._file.write(b"".join(bson.encode(doc) for doc in docs))
        self.count += len(docs)

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Every document written, in order, ``size`` at a time."""
        self._file.flush()
        self._file.seek(0)
        batch: list[dict[str, Any]] = []
        for doc in bson.decode_file_iter(self._file, _OPTIONS):
            batch.append(doc)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

"""Giving a finished call's memory back to the operating system.

A call allocates and frees many small buffers (audio frames, ONNX inputs). glibc keeps
freed heap pages for reuse, so a worker's resident size would ratchet up call after call;
``malloc_trim`` returns them, keeping the worker at its idle size between calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def release_memory() -> None:
    """Collect garbage, then ask glibc to return free heap pages (a no-op elsewhere)."""
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)

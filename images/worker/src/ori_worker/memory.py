"""A worker's memory: glibc's allocator, the garbage collector, and giving memory back.

* :func:`tune_allocator` (at start, before any thread): glibc gives each thread that
  allocates its own heap ("arena", up to eight per core), and memory freed in one is not
  reused by another. A worker's threads (the event loop, the turn model's, the STT's) need
  no more than two. And every block of :data:`MMAP_THRESHOLD` or more gets its own mapping,
  returned the moment it is freed. glibc's default starts there too, but raises the
  threshold to the largest block freed so far (up to 32 MB): after the first Smart Turn
  inference, the model's buffers come from the heap, fragment it, and stay resident until
  the call ends (measured: a Smart Turn call peaked 30 MB above a VAD-only one).
* :func:`settle` (once everything is loaded): what exists then (modules, classes, models:
  about a million objects) lives as long as the process, so it is collected once and then
  frozen (:func:`gc.freeze`): later collections, during calls and after each, skip it.
* :func:`release_memory` (after each call): a call allocates and frees many small buffers
  (audio frames, model inputs); glibc keeps freed heap pages for reuse, so a worker's
  resident size would ratchet up call after call; ``malloc_trim`` returns them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit."""
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter number for the mapping threshold (setting it fixes it)."""
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024
"""Blocks this large or larger are mapped on their own (audio frames are far smaller)."""


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def tune_allocator(arenas: int = ARENAS, mmap_threshold: int | None = MMAP_THRESHOLD) -> bool:
    """Limit glibc to ``arenas`` heaps and fix its mapping threshold (None: leave it dynamic).

    Returns False where there is no glibc to tune.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    tuned = bool(libc.mallopt(M_ARENA_MAX, arenas))
    if mmap_threshold is not None:
        tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and tuned
    return tuned


def _trim() -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def settle() -> None:
    """Collect what start-up left behind, freeze the rest, return free pages."""
    gc.collect()
    gc.freeze()
    _trim()


def release_memory() -> None:
    """Collect garbage, then ask glibc to return free heap pages (a no-op elsewhere)."""
    gc.collect()
    _trim()

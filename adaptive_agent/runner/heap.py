"""Giving the memory a periodic task freed back to the system (glibc ``malloc_trim``).

The daily digest and audit read up to 30 days of closes at once (the audit's Sharpe window).
What they free stays in the C allocator's heap, fragmented by the small allocations made
meanwhile, so a long-running agent's RSS kept the high-water mark of its daily reports and
grew by ~3 KB a close while its Python objects stayed flat (issue 9; measured with
``bench/memory_live.py`` and glibc's ``mallinfo2``: bytes in use flat, free bytes growing).
glibc's ``malloc_trim(0)`` hands every whole free page of every arena back to the system;
with another C library the function is missing and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS), or no libc found
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

"""Process memory: the resident size now, and handing freed memory back to the system.

Freeing a Python object (a traced model, thousands of small NumPy arrays) returns its memory
to the C allocator, not to the operating system: glibc keeps the freed pages for later
allocations, so the process's resident size, and the peak that a 2 GB Binder counts,
stays where it was. ``release_memory`` asks glibc to return free pages (``malloc_trim``):
in lesson 10, 63-71 MB after dropping the encoder and 96-129 MB after dropping the training
states, on Linux. Elsewhere (macOS, Windows) it only collects garbage.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache
from typing import Any

import psutil


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None)
    except OSError:
        return None


def release_memory() -> float:
    """Collect garbage, then return free heap pages to the system; the MB given back.

    Call it after dropping something large (``del encoder``) and before the next big step,
    so the peak of the next step starts lower.
    """
    before = rss_mb()
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    return max(0.0, before - rss_mb())

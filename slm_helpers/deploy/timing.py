"""Latency statistics: repeated wall-clock timings summarised by median and tail percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def percentiles(times_ms: Sequence[float]) -> dict[str, float]:
    """``{"median_ms", "p95_ms", "p99_ms", "mean_ms"}`` of a list of timings (linear interpolation)."""
    times = np.asarray(times_ms, np.float64)
    if times.ndim != 1 or times.size == 0:
        raise ValueError("expected a non-empty 1-D list of timings")
    if np.any(~np.isfinite(times)) or np.any(times < 0):
        raise ValueError("timings must be finite and non-negative")
    return {
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "p99_ms": float(np.percentile(times, 99)),
        "mean_ms": float(times.mean()),
    }


def latency_ms(fn: Callable[[], Any], *, repeats: int = 50, warmup: int = 3) -> dict[str, float]:
    """Time ``fn()`` ``repeats`` times after ``warmup`` calls; :func:`percentiles` of the runs in ms."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)

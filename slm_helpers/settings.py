"""Run-time settings shared by every lesson: fast mode and seeding.

Fast mode (``SLM_FAST=1``, set by CI) shrinks data, epochs and model sizes so that each
notebook runs in under a minute; without it the lessons use their real settings.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np

FAST_ENV = "SLM_FAST"
DEFAULT_SEED = 42
# COURSE.md §7: each notebook's time and peak memory, per mode (the harness and `make bench` check them).
NOTEBOOK_BARS = {"fast": {"seconds": 60.0, "rss_mb": 1536.0}, "full": {"seconds": 300.0, "rss_mb": 1536.0}}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_fast() -> bool:
    """Return True when ``SLM_FAST`` asks for fast mode (``1``, ``true``, ``yes``, ``on``)."""
    raw = os.environ.get(FAST_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{FAST_ENV}={raw!r} is not understood; use 1 (fast mode) or 0 (full mode)")


def mode() -> str:
    """``"fast"`` or ``"full"``."""
    return "fast" if is_fast() else "full"


def pick(*, fast: Any, full: Any) -> Any:
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Dicts are returned as a copy, so a lesson can change its configuration freely:

    >>> cfg = pick(fast=dict(epochs=1), full=dict(epochs=8))
    """
    chosen = fast if is_fast() else full
    return dict(chosen) if isinstance(chosen, dict) else chosen


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python's ``random``, NumPy and, if it is already imported, Keras/TensorFlow.

    Keras is seeded through ``keras.utils.set_random_seed`` (which also seeds TensorFlow's
    global generator). Keras is not imported here just to seed it, so lessons that never use
    it stay fast; call this again after importing Keras if Keras was imported later.
    Returns the seed, so a lesson can print it.
    """
    import sys

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    elif "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    return seed


def rng(seed: int = DEFAULT_SEED) -> np.random.Generator:
    """A NumPy ``Generator`` seeded with ``seed``: the preferred way to draw random numbers."""
    return np.random.default_rng(seed)

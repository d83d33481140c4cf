"""Helpers for the course *Small Language Models in the Open Ecosystem*.

Each module holds one concern (``settings``, ``data``, ``text``, ``check``, ``compare``,
``environment``, ...). Importing the package is instant: modules that need TensorFlow,
gensim or plotly import them inside the functions that use them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

_SUBMODULES = {
    "check",
    "compare",
    "data",
    "embeddings",
    "environment",
    "reference",
    "selfcheck",
    "sharing",
    "settings",
    "splits",
    "text",
}


def __getattr__(name: str) -> ModuleType:
    # Lazy submodule access: `slm_helpers.data` works without importing every module up front.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))

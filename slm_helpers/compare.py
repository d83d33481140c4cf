"""Compare a hand-written result with a framework's, and say how close they are.

>>> import numpy as np
>>> report = compare("ours", np.ones(3), "theirs", np.ones(3) + 1e-7)
>>> report.ok
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`."""

    ours: str
    theirs: str
    shape: tuple[int, ...]
    max_abs_diff: float
    mismatches: int
    atol: float
    numeric: bool

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.atol if self.numeric else self.mismatches == 0

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        if self.numeric:
            return (
                f"{self.ours} vs {self.theirs}: max |diff| {self.max_abs_diff:.1e} "
                f"(tolerance {self.atol:.0e}, shape {self.shape})  {mark}"
            )
        total = int(np.prod(self.shape)) if self.shape else 1
        return f"{self.ours} vs {self.theirs}: {self.mismatches} of {total} items differ  {mark}"

    def assert_ok(self) -> Comparison:
        """Raise ``AssertionError`` with this report unless the comparison passed."""
        if not self.ok:
            raise AssertionError(str(self))
        return self


def _to_array(value: Any) -> np.ndarray:
    if hasattr(value, "numpy"):  # TensorFlow/Keras tensors
        value = value.numpy()
    return np.asarray(value)


def compare(ours_name: str, ours: Any, theirs_name: str, theirs: Any, *, atol: float = 1e-5) -> Comparison:
    """Compare two arrays (or sequences) of the same shape.

    Numbers: report the maximum absolute difference, passing when it is at most ``atol``.
    Anything else (strings, token lists): count the items that differ, passing at zero.
    Shapes must agree; a mismatch raises ``ValueError`` naming both shapes.
    """
    a, b = _to_array(ours), _to_array(theirs)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare {ours_name} {a.shape} with {theirs_name} {b.shape}: shapes differ")
    numeric = np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number)
    if numeric:
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        max_diff = float(diff.max()) if diff.size else 0.0
        if np.isnan(max_diff):
            max_diff = float("inf")
        mismatches = int(np.count_nonzero(diff > atol))
    else:
        max_diff = float("nan")
        mismatches = int(np.count_nonzero(a != b))
    return Comparison(ours_name, theirs_name, a.shape, max_diff, mismatches, atol, numeric)

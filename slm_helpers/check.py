"""Exercise checks that help before they grade.

Each check prints a short ``✓ what`` line when it passes. When it fails it raises
:class:`ExerciseCheckError` (an ``AssertionError``, so nbgrader scores the cell as failed)
whose message says what was checked, what was expected, what came back and a hint.

>>> close(0.5 + 0.25, 0.75, "a sum")
✓ a sum
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class ExerciseCheckError(AssertionError):
    """A failed exercise check, with a message meant for the learner."""


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, threshold=20, edgeitems=3):
            text = f"array(shape={value.shape}, dtype={value.dtype}) {value}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(what: str, *, expected: Any, got: Any, hint: str | None = None) -> None:
    """Raise the standard failure message for ``what``."""
    lines = [f"✗ {what}", f"  expected: {expected}", f"  got:      {got}"]
    if hint:
        lines.append(f"  hint:     {hint}")
    raise ExerciseCheckError("\n".join(lines))


def _passed(what: str, quiet: bool) -> None:
    if not quiet:
        print(f"✓ {what}")


def _not_implemented(got: Any, what: str, hint: str | None) -> None:
    if got is None or got is Ellipsis:
        fail(what, expected="a value", got=f"{got!r} (the exercise is not done yet?)", hint=hint)


def close(
    got: Any,
    expected: Any,
    what: str,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    hint: str | None = None,
    quiet: bool = False,
) -> None:
    """Check that ``got`` is numerically close to ``expected`` (scalars or arrays)."""
    _not_implemented(got, what, hint)
    try:
        got_arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        fail(what, expected=f"a number or array close to {_short(expected)}", got=_short(got), hint=hint)
    exp_arr = np.asarray(expected, dtype=float)
    if got_arr.shape != exp_arr.shape:
        fail(what, expected=f"shape {exp_arr.shape}", got=f"shape {got_arr.shape}", hint=hint)
    if not np.all(np.isfinite(got_arr) == np.isfinite(exp_arr)):
        fail(what, expected=_short(expected), got=f"{_short(got)} (contains nan or inf)", hint=hint)
    if not np.allclose(got_arr, exp_arr, atol=atol, rtol=rtol, equal_nan=True):
        diff = float(np.nanmax(np.abs(got_arr - exp_arr))) if got_arr.size else 0.0
        fail(
            what,
            expected=f"{_short(expected)} (within atol={atol:g}, rtol={rtol:g})",
            got=f"{_short(got)}; max |difference| {diff:.3g}",
            hint=hint,
        )
    _passed(what, quiet)


def equal(got: Any, expected: Any, what: str, *, hint: str | None = None, quiet: bool = False) -> None:
    """Check exact equality (arrays compared element-wise)."""
    if isinstance(got, np.ndarray) or isinstance(expected, np.ndarray):
        same = np.shape(got) == np.shape(expected) and bool(np.all(np.asarray(got) == np.asarray(expected)))
    else:
        same = got == expected
    if not same:
        fail(what, expected=_short(expected), got=_short(got), hint=hint)
    _passed(what, quiet)


def shape(
    got: Any, expected: tuple[int | None, ...], what: str, *, hint: str | None = None, quiet: bool = False
) -> None:
    """Check an array's shape; ``None`` in ``expected`` matches any size."""
    _not_implemented(got, what, hint)
    actual = tuple(np.shape(got))
    ok = len(actual) == len(expected) and all(e is None or e == a for e, a in zip(expected, actual, strict=True))
    if not ok:
        fail(what, expected=f"shape {tuple(expected)}", got=f"shape {actual}", hint=hint)
    _passed(what, quiet)


def true(condition: Any, what: str, *, got: Any = None, hint: str | None = None, quiet: bool = False) -> None:
    """Check that ``condition`` holds; ``got`` is shown in the failure message."""
    if not bool(condition):
        fail(what, expected="True", got=_short(got) if got is not None else "False", hint=hint)
    _passed(what, quiet)


def is_instance(
    got: Any, kind: type | tuple[type, ...], what: str, *, hint: str | None = None, quiet: bool = False
) -> None:
    """Check the type of ``got``."""
    if not isinstance(got, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        fail(what, expected=f"a {names}", got=f"a {type(got).__name__}: {_short(got)}", hint=hint)
    _passed(what, quiet)


def raises(
    func: Callable[[], Any], error: type[BaseException], what: str, *, hint: str | None = None, quiet: bool = False
) -> None:
    """Check that calling ``func()`` raises ``error``."""
    try:
        result = func()
    except error:
        _passed(what, quiet)
        return
    except Exception as exc:  # noqa: BLE001 - a different error is a failed check, not a crash
        fail(what, expected=f"{error.__name__} raised", got=f"{type(exc).__name__}: {exc}", hint=hint)
    fail(what, expected=f"{error.__name__} raised", got=f"no error; returned {_short(result)}", hint=hint)

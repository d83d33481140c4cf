"""Run a lesson's visible exercise checks and say which exercises pass (learner side).

Hidden tests (between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``) are
removed before running, so a learner sees exactly what the visible checks say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ExerciseResult:
    """The outcome of one graded cell."""

    grade_id: str
    points: float
    passed: bool
    message: str


def strip_hidden_tests(source: str) -> str:
    """Remove hidden-test blocks from a cell's source."""
    return HIDDEN.sub("", source)


def _error_text(outputs: list) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            text = f"{out.get('ename')}: {out.get('evalue')}"
            return ANSI.sub("", text).strip()
    return None


def check_notebook(path: str | Path, *, timeout: int = 600, kernel_name: str = "python3") -> list[ExerciseResult]:
    """Execute the notebook (hidden tests removed, errors allowed) and grade its test cells."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"{path}: not a readable notebook ({exc})") from exc
    graded = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            cell.source = strip_hidden_tests(cell.source)
            graded.append(cell)
    if not graded:
        raise ValueError(f"{path}: no graded exercise cells (nbgrader metadata 'grade': true)")
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )  # fmt: skip
    client.execute()
    results = []
    for cell in graded:
        meta = cell.metadata["nbgrader"]
        error = _error_text(cell.get("outputs", []))
        results.append(ExerciseResult(meta["grade_id"], float(meta.get("points", 0)), error is None, error or "passed"))
    return results


def format_results(results: list[ExerciseResult]) -> str:
    """A small table: exercise, points, verdict and the check's message."""
    lines = []
    for r in results:
        mark = "✓" if r.passed else "✗"
        first = r.message.splitlines()[0] if r.message else ""
        lines.append(f"{mark} {r.grade_id:28} {r.points:>4g} pt  {first}")
    earned = sum(r.points for r in results if r.passed)
    total = sum(r.points for r in results)
    lines.append(f"{sum(r.passed for r in results)}/{len(results)} exercises pass ({earned:g}/{total:g} points)")
    return "\n".join(lines)

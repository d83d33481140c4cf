"""Maintainer tooling for lesson notebooks: build cells in the course format, and clean.

After editing a lesson in JupyterLab, run ``make clean-notebooks`` (this module's CLI) to
strip outputs, execution counts and machine-specific metadata before committing; the
hygiene tests enforce the result.

The builders give every cell the nbgrader metadata the course uses (COURSE.md §5):

>>> cells = [markdown("# 99 · Title"), solution("def f():\\n    ### BEGIN SOLUTION\\n    ...")]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import nbformat

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
KEEP_CELL_METADATA = {"nbgrader", "jupyter", "tags", "editable", "deletable"}


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def markdown(text: str, **meta: Any) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=meta)


def code(text: str, **meta: Any) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=meta)


def exercise_text(text: str, grade_id: str) -> nbformat.NotebookNode:
    """A locked markdown cell stating an exercise (nbgrader keeps it read-only)."""
    return markdown(text, nbgrader=_nbgrader(grade_id, grade=False, solution=False, locked=True, points=None))


def solution(text: str, grade_id: str) -> nbformat.NotebookNode:
    """The learner's cell: ``### BEGIN SOLUTION`` ... ``### END SOLUTION``, collapsed."""
    return code(
        text,
        nbgrader=_nbgrader(grade_id, grade=False, solution=True, locked=False, points=None),
        jupyter={"source_hidden": True},
    )


def tests(text: str, grade_id: str, points: float = 1) -> nbformat.NotebookNode:
    """An autograded, locked cell: visible ``check`` calls, then hidden tests."""
    return code(text, nbgrader=_nbgrader(grade_id, grade=True, solution=False, locked=True, points=points))


def new_notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    return clean(nb)


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs, counts and machine metadata; give cells stable ids."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
    }
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.pop("attachments", None) if cell.cell_type == "code" else None
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            basis = grade_id or f"{index}:{''.join(cell.source)[:200]}"
            cell_id = hashlib.sha1(basis.encode()).hexdigest()[:8]
            while cell_id in seen:
                cell_id = hashlib.sha1(cell_id.encode()).hexdigest()[:8]
        cell["id"] = cell_id
        seen.add(cell_id)
    return nb


def write(nb: nbformat.NotebookNode, path: str | Path) -> None:
    nbformat.validate(nb)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(Path("notebooks").glob("*.ipynb"))
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        write(clean(nb), path)
        print(f"cleaned {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

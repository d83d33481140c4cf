"""The rules every lesson notebook follows (COURSE.md §4-5), as plain functions.

Used by ``tests/test_notebook_hygiene.py``; each returns a list of problems (empty = fine),
so a maintainer sees every problem at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
ALLOWED_NOTEBOOK_METADATA = {"kernelspec", "language_info"}
ALLOWED_CELL_METADATA = {"nbgrader", "jupyter", "tags", "editable", "deletable"}
NBGRADER_KEYS = {"grade", "solution", "locked", "grade_id", "schema_version"}


def source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def hygiene_problems(nb: dict[str, Any]) -> list[str]:
    """Outputs, execution counts and machine-specific metadata."""
    problems = []
    extra = set(nb.get("metadata", {})) - ALLOWED_NOTEBOOK_METADATA
    if extra:
        problems.append(f"notebook metadata has machine-specific keys {sorted(extra)}")
    lang = nb.get("metadata", {}).get("language_info", {})
    if set(lang) - {"name"}:
        problems.append(f"language_info should hold only 'name', has {sorted(lang)}")
    kernel = nb.get("metadata", {}).get("kernelspec", {})
    if kernel.get("name") != "python3":
        problems.append(f"kernelspec name should be python3, is {kernel.get('name')!r}")
    ids = [c.get("id") for c in nb["cells"]]
    if None in ids or len(set(ids)) != len(ids):
        problems.append("every cell needs a unique id (nbformat 4.5)")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            if cell.get("outputs"):
                problems.append(f"cell {i} has stored outputs")
            if cell.get("execution_count") is not None:
                problems.append(f"cell {i} has an execution count")
        extra = set(cell.get("metadata", {})) - ALLOWED_CELL_METADATA
        if extra:
            problems.append(f"cell {i} has metadata {sorted(extra)}")
    return problems


def structure_problems(nb: dict[str, Any]) -> list[str]:
    """One H1 title, then Goal, Prerequisites and Expected run time in the first cell."""
    problems = []
    first = nb["cells"][0]
    h1 = [
        line
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for line in source(c).splitlines()
        if re.match(r"^# \S", line)
    ]
    if len(h1) != 1:
        problems.append(f"expected exactly one H1 title, found {len(h1)}")
    if first["cell_type"] != "markdown" or not source(first).startswith("# "):
        problems.append("the first cell should be markdown starting with the H1 title")
    intro = source(first).lower()
    for word in ("goal", "prerequisites", "run time"):
        if word not in intro:
            problems.append(f"the first cell does not state the {word}")
    if not any("summary" in source(c).lower() for c in nb["cells"] if c["cell_type"] == "markdown"):
        problems.append("no summary section")
    return problems


def exercises(nb: dict[str, Any]) -> list[dict[str, Any]]:
    """Autograded test cells (nbgrader ``grade: true`` code cells)."""
    return [
        c for c in nb["cells"] if c["cell_type"] == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")
    ]


def nbgrader_problems(nb: dict[str, Any], min_exercises: int = 3) -> list[str]:
    """nbgrader schema 3 metadata, markers, unique ids, visible checks and hidden tests."""
    problems = []
    ids: list[str] = []
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {}).get("nbgrader")
        text = source(cell)
        if meta is None:
            for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
                if marker in text:
                    problems.append(f"cell {i} uses {marker} without nbgrader metadata")
            continue
        missing = NBGRADER_KEYS - set(meta)
        if missing:
            problems.append(f"cell {i}: nbgrader metadata misses {sorted(missing)}")
            continue
        if meta["schema_version"] != 3:
            problems.append(f"cell {i}: nbgrader schema_version should be 3")
        ids.append(meta["grade_id"])
        if not re.fullmatch(r"[A-Za-z0-9_-]+", str(meta["grade_id"])):
            problems.append(f"cell {i}: grade_id {meta['grade_id']!r} has characters nbgrader rejects")
        if meta["grade"] and not (isinstance(meta.get("points"), (int, float)) and meta["points"] > 0):
            problems.append(f"cell {i} ({meta['grade_id']}): a graded cell needs points > 0")
        if meta["solution"] and cell["cell_type"] == "code":
            if "### BEGIN SOLUTION" not in text or "### END SOLUTION" not in text:
                problems.append(f"cell {i} ({meta['grade_id']}): solution cell without BEGIN/END SOLUTION")
            if not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
                problems.append(
                    f"cell {i} ({meta['grade_id']}): solution cell should be collapsed (jupyter.source_hidden)"
                )
        if meta["grade"] and cell["cell_type"] == "code":
            if "### BEGIN HIDDEN TESTS" not in text or "### END HIDDEN TESTS" not in text:
                problems.append(f"cell {i} ({meta['grade_id']}): test cell without hidden tests")
            visible = text.split("### BEGIN HIDDEN TESTS")[0]
            if "check." not in visible:
                problems.append(f"cell {i} ({meta['grade_id']}): no visible check before the hidden tests")
            if not meta["locked"]:
                problems.append(f"cell {i} ({meta['grade_id']}): test cells must be locked")
    dupes = {x for x in ids if ids.count(x) > 1}
    if dupes:
        problems.append(f"duplicate grade_ids {sorted(dupes)}")
    n = len(exercises(nb))
    if n < min_exercises:
        problems.append(f"{n} graded exercises; every lesson needs at least {min_exercises}")
    return problems


def lesson_paths(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))

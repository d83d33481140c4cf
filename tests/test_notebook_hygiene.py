"""Every lesson notebook is committed clean and is nbgrader-ready (COURSE.md §4-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.notebook_rules import (
    NOTEBOOK_NAME,
    hygiene_problems,
    lesson_paths,
    nbgrader_problems,
    structure_problems,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = lesson_paths(ROOT)


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 2, "notebooks/ should hold the lessons"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path: Path):
    assert NOTEBOOK_NAME.match(path.name), f"{path.name}: name lessons NN_topic.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 5
    assert hygiene_problems(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_structure(path: Path):
    assert structure_problems(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbgrader_metadata(path: Path):
    assert nbgrader_problems(json.loads(path.read_text(encoding="utf-8"))) == []


def test_grade_ids_unique_across_lessons():
    seen: dict[str, str] = {}
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                assert gid not in seen, f"grade_id {gid} in {path.name} and {seen[gid]}"
                seen[gid] = path.name


def test_rules_catch_a_dirty_notebook():
    """The checks above are not vacuous: a notebook breaking each rule is reported."""
    dirty = {
        "metadata": {
            "kernelspec": {"name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "widgets": {},
        },
        "cells": [
            {
                "id": "a",
                "cell_type": "code",
                "source": "1",
                "metadata": {"ExecuteTime": {}},
                "outputs": [{"output_type": "stream"}],
                "execution_count": 3,
            },
            {
                "id": "a",
                "cell_type": "code",
                "source": "x = 1\n",
                "outputs": [],
                "execution_count": None,
                "metadata": {
                    "nbgrader": {
                        "grade": True,
                        "solution": False,
                        "locked": False,
                        "grade_id": "ex1",
                        "schema_version": 3,
                    }
                },
            },
        ],
    }
    problems = hygiene_problems(dirty) + nbgrader_problems(dirty)
    text = "\n".join(problems)
    for expected in (
        "machine-specific",
        "language_info",
        "stored outputs",
        "execution count",
        "metadata ['ExecuteTime']",
        "unique id",
        "points",
        "hidden tests",
        "visible check",
        "locked",
        "at least 3",
    ):
        assert expected in text, f"rule not enforced: {expected}\n{text}"

"""The instructor workflow on real nbgrader runs, with the submissions real classes produce.

One batch is autograded once (module fixture): lesson 00 with ten kinds of submission, and
lesson 01 with the instructor's solutions and an untouched student version. Then each
test checks one promise: full marks, zero without a crash, partial marks, timeouts, a
memory ceiling, deleted/reordered cells, killed kernels, syntax errors, broken files, a row
for everyone, and feedback without hidden tests.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import re
from pathlib import Path

import pytest

from slm_helpers import grading

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 60  # seconds per cell; the slowest lesson-01 cell takes ~15 s on 2 idle cores, 40+ s when loaded
L00, L01 = "lesson-00", "lesson-01"
NB00, NB01 = "00_setup_and_ecosystem.ipynb", "01_text_to_numbers.ipynb"


def text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def gid(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def with_source(nb: dict, grade_id: str, source: str) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if gid(cell) == grade_id:
            cell["source"] = source
    return nb


def put(subs: Path, student: str, assignment: str, name: str, nb: dict | str) -> None:
    folder = subs / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(nb) if isinstance(nb, dict) else nb, encoding="utf-8")


@pytest.fixture(scope="module")
def batch(tmp_path_factory, needs_data):
    work = tmp_path_factory.mktemp("grading")
    course, subs = work / "course", work / "submissions"
    ids = grading.prepare_course(course, ROOT / "notebooks", lessons=["00", "01"], cell_timeout=CELL_TIMEOUT)
    assert ids == [L00, L01]
    released = {p.parent.name: p for p in grading.release(course, ids)}
    load = lambda p: json.loads(Path(p).read_text(encoding="utf-8"))  # noqa: E731
    student, source = load(released[L00]), load(course / "source" / L00 / NB00)
    solution = {gid(c): text(c) for c in source["cells"] if gid(c)}
    one_done = with_source(student, "00-ex1-solution", solution["00-ex1-solution"])

    put(subs, "alice", L00, NB00, source)  # the instructor's solutions
    put(subs, "bob", L00, NB00, student)  # untouched
    put(subs, "carol", L00, NB00, one_done)  # exercise 1 of 3 solved
    loop = "def file_sha256(path):\n    while True:\n        pass\n"
    put(subs, "dave", L00, NB00, with_source(one_done, "00-ex2-solution", loop))
    hog = "blob = []\nwhile True:\n    blob.append(bytearray(256 * 2**20))\n"
    put(subs, "erin", L00, NB00, with_source(student, "00-ex1-solution", hog))
    reordered = copy.deepcopy(one_done)
    cells = [c for c in reordered["cells"] if gid(c) != "00-ex3-tests"]  # a graded cell deleted
    i2 = next(i for i, c in enumerate(cells) if gid(c) == "00-ex2-solution")
    i3 = next(i for i, c in enumerate(cells) if gid(c) == "00-ex3-solution")
    cells[i2], cells[i3] = cells[i3], cells[i2]  # and two exercises swapped
    reordered["cells"] = cells
    put(subs, "frank", L00, NB00, reordered)
    put(subs, "grace", L00, NB00, with_source(one_done, "00-ex2-solution", "import sys\nsys.exit()\n"))
    put(subs, "heidi", L00, NB00, with_source(one_done, "00-ex2-solution", "import os\nos._exit(1)\n"))
    put(subs, "ivan", L00, NB00, with_source(one_done, "00-ex2-solution", "def file_sha256(path)\n    return 1\n"))
    put(subs, "judy", L00, NB00, '{"cells": [ this is not json')
    put(subs, "alice", L01, NB01, load(course / "source" / L01 / NB01))
    put(subs, "bob", L01, NB01, load(released[L01]))

    rows = grading.grade(course, subs, work / "grades.csv")
    table = {(r.student, r.assignment): r for r in rows}
    return {"course": course, "rows": rows, "table": table, "csv": work / "grades.csv",
            "student": student, "source": source}  # fmt: skip


def test_student_version_is_the_lesson_without_solutions_or_hidden_tests(batch):
    src, stu = batch["source"]["cells"], batch["student"]["cells"]
    assert len(src) == len(stu)
    for a, b in zip(src, stu, strict=True):
        meta = a.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            assert "BEGIN SOLUTION" not in text(b) and grading.STUB in text(b)
        elif meta.get("grade"):
            assert "HIDDEN TESTS" not in text(b)
            assert text(b).strip() == text(a).split("### BEGIN HIDDEN TESTS")[0].strip()
        else:
            assert text(a) == text(b), "everything else is identical"


def test_untouched_student_version_fails_first_at_the_first_exercise_with_its_message(batch):
    nb = json.loads(next((batch["course"] / "autograded" / "bob" / L00).glob("*.ipynb")).read_text())
    errors = [(gid(c), o) for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]  # fmt: skip
    first_cell, first_error = errors[0]
    assert first_cell == "00-ex1-tests", "nothing before the first exercise may fail"
    assert first_error["ename"] == "NotImplementedError" and "Exercise not done yet" in first_error["evalue"]


def test_scores(batch):
    t = batch["table"]
    expected = {
        "alice": 6, "bob": 0, "carol": 2, "dave": 2, "erin": 0, "frank": 2, "grace": 2, "ivan": 2,
    }  # fmt: skip
    got = {s: t[(s, L00)].score for s in expected}
    assert got == expected
    assert all(t[(s, L00)].status == "graded" for s in expected)
    assert t[("alice", L01)].score == t[("alice", L01)].max_score > 0
    # An untouched lesson-01 student version scores 0. (Once, on a machine at load 14, its
    # autograde run failed outright; it still got its row with the reason, which is the promise.)
    assert t[("bob", L01)].score == 0


def test_killed_kernel_and_broken_file_still_get_a_row(batch):
    heidi, judy = batch["table"][("heidi", L00)], batch["table"][("judy", L00)]
    assert heidi.score == 0 and "kernel died" in heidi.status
    assert judy.score == 0 and "not a valid notebook" in judy.status


def test_infinite_loop_is_interrupted_and_the_rest_is_graded(batch):
    dave = batch["table"][("dave", L00)]
    assert dave.score == 2 and dave.seconds >= CELL_TIMEOUT
    nb = json.loads(next((batch["course"] / "autograded" / "dave" / L00).glob("*.ipynb")).read_text())
    enames = {o.get("ename") for c in nb["cells"] if gid(c) == "00-ex2-tests" for o in c.get("outputs", [])}
    assert enames & {"CellTimeoutError", "KeyboardInterrupt"}, enames


def test_memory_hog_hits_the_ceiling(batch):
    nb = json.loads(next((batch["course"] / "autograded" / "erin" / L00).glob("*.ipynb")).read_text())
    enames = {o.get("ename") for c in nb["cells"] if gid(c) == "00-ex1-solution" for o in c.get("outputs", [])}
    assert "MemoryError" in enames


def test_csv_has_a_row_for_every_submission(batch):
    with open(batch["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12
    assert {r["student"] for r in rows} == {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
                                            "ivan", "judy"}  # fmt: skip
    assert all(float(r["seconds"]) > 0 for r in rows)


def test_feedback_never_contains_hidden_tests(batch):
    course = batch["course"]
    hidden_lines = set()
    for source in (course / "source").glob("*/*.ipynb"):
        for cell in json.loads(source.read_text())["cells"]:
            for region in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", text(cell), re.S):
                hidden_lines |= {line.strip() for line in region.splitlines() if len(line.strip()) > 12}
    assert hidden_lines
    feedback = list((course / "feedback").glob("*/*/*.html"))
    assert len(feedback) >= 9
    for path in feedback:
        shown = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
        leaked = [line for line in hidden_lines if line in shown]
        assert not leaked, f"{path} shows hidden test code: {leaked[:2]}"
    carol = html.unescape((course / "feedback" / "carol" / L00 / NB00.replace(".ipynb", ".html")).read_text())
    assert "Exercise not done yet" in carol, "the learner sees why an exercise failed"

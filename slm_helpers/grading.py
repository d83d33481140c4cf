"""Instructor workflow on nbgrader: build the course folder, release, autograde, feed back.

The lessons in ``notebooks/`` are the single source. ``prepare_course`` copies them into
an nbgrader course folder (``source/lesson-NN/``, not committed) and writes its
``nbgrader_config.py``; from there an instructor can use the plain nbgrader commands, or
the shortcuts here (``slm-course release``, ``slm-course grade``), which only call nbgrader.

Grading is robust to real submissions: each cell has a timeout (infinite loops are
interrupted), the kernel has a memory ceiling (``slm_helpers.grading_kernel``), deleted
graded cells are put back and score zero, and a submission whose kernel dies or that
cannot be read still gets a row in the grades table with the reason.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ASSIGNMENT = re.compile(r"^lesson-(\d\d)$")
KERNEL_NAME = "slm-grader"
CELL_TIMEOUT_S = 120
MEMORY_MB = 4096
STUB = 'raise NotImplementedError("Exercise not done yet: write your solution here, then run the checks below.")'


def assignment_for(notebook: Path) -> str:
    """``notebooks/01_text_to_numbers.ipynb`` -> ``lesson-01``."""
    return f"lesson-{notebook.name[:2]}"


def configure(c: Any, *, root: str | Path, cell_timeout: int = CELL_TIMEOUT_S) -> None:
    """Apply the course's nbgrader settings to a traitlets config object ``c``."""
    c.CourseDirectory.root = str(root)
    # The grader kernel spec lives in the course folder; let every nbgrader command find it.
    kernels = str(Path(root).resolve() / "jupyter")
    if kernels not in os.environ.get("JUPYTER_PATH", "").split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [kernels, os.environ.get("JUPYTER_PATH")]))
    c.CourseDirectory.course_id = "slm-course"
    # Student versions: a stub that says what to do, so the first unsolved exercise fails
    # in its own checks with this message rather than somewhere else.
    c.ClearSolutions.code_stub = {"python": f"# YOUR CODE HERE\n{STUB}"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    # Autograding untrusted code.
    c.Execute.timeout = cell_timeout
    c.Execute.interrupt_on_timeout = True
    c.Execute.kernel_name = KERNEL_NAME
    c.Execute.execute_retries = 0
    c.OverwriteCells.add_missing_cells = True  # a deleted graded cell comes back (and scores 0)
    c.LimitOutput.max_lines = 200
    # Feedback must never show hidden tests, not even in a traceback.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "slm_helpers.grading_feedback.HideHiddenTestErrors",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]


CONFIG_TEMPLATE = '''\
"""nbgrader configuration for the SLM course (written by slm_helpers.grading.prepare_course)."""
from slm_helpers.grading import configure

c = get_config()  # noqa: F821 - provided by nbgrader
configure(c, root={root!r}, cell_timeout={timeout})
'''


def install_grader_kernel(course: Path, memory_mb: int = MEMORY_MB) -> Path:
    """Write the memory-limited kernel spec into ``course/kernels`` (found via JUPYTER_PATH)."""
    spec_dir = course / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "slm_helpers.grading_kernel", "-f", "{connection_file}"],
        "display_name": f"Python 3 (grader, {memory_mb} MB)",
        "language": "python",
        "env": {"SLM_GRADER_MEMORY_MB": str(memory_mb), "SLM_FAST": "1"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return spec_dir


def prepare_course(
    course: str | Path,
    notebooks: str | Path = "notebooks",
    *,
    lessons: list[str] | None = None,
    cell_timeout: int = CELL_TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
) -> list[str]:
    """Create/refresh the nbgrader course folder from the lesson notebooks.

    Returns the assignment ids (``lesson-NN``). ``lessons`` limits it to some numbers
    (e.g. ``["00", "01"]``).
    """
    course, notebooks = Path(course).resolve(), Path(notebooks).resolve()
    paths = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if lessons:
        paths = [p for p in paths if p.name[:2] in lessons]
    if not paths:
        raise ValueError(f"no lesson notebooks matched in {notebooks} (lessons={lessons})")
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(CONFIG_TEMPLATE.format(root=str(course), timeout=cell_timeout))
    install_grader_kernel(course, memory_mb)
    ids = []
    for path in paths:
        folder = course / "source" / assignment_for(path)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / path.name)
        ids.append(assignment_for(path))
    return ids


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run an nbgrader command in the course folder (its config applies)."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(course / "jupyter"), env.get("JUPYTER_PATH")]))
    # nbgrader runs `alembic` by name: make this environment's scripts findable.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def release(course: str | Path, assignments: list[str]) -> list[Path]:
    """``nbgrader generate_assignment``: student versions in ``course/release/``."""
    course = Path(course).resolve()
    out = []
    for assignment in assignments:
        nbgrader(course, "generate_assignment", assignment, "--force", "--create")
        out.extend(sorted((course / "release" / assignment).glob("*.ipynb")))
    return out


@dataclass
class GradeRow:
    """One student's result for one assignment."""

    student: str
    assignment: str
    score: float
    max_score: float
    status: str  # "graded" or what went wrong
    seconds: float = 0.0  # time to autograde this submission


def collect_submissions(course: Path, submissions: Path) -> dict[str, list[str]]:
    """Copy ``SUBMISSIONS/<student>/<assignment>/*.ipynb`` into ``course/submitted``.

    Returns ``{assignment: [students]}``. Anything that is not in that layout is ignored
    with a message, never a crash.
    """
    found: dict[str, list[str]] = {}
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if not ASSIGNMENT.match(assignment_dir.name):
                print(f"skipping {assignment_dir}: not an assignment folder (lesson-NN)", file=sys.stderr)
                continue
            target = course / "submitted" / student_dir.name / assignment_dir.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(assignment_dir, target)
            found.setdefault(assignment_dir.name, []).append(student_dir.name)
    return found


def _max_scores(course: Path, assignment: str) -> float:
    total = 0.0
    for path in (course / "source" / assignment).glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                total += float(meta.get("points", 0))
    return total


def grade(course: str | Path, submissions: str | Path, out_csv: str | Path) -> list[GradeRow]:
    """Autograde every submission, write feedback HTML and a grades CSV (one row per student).

    Each submission is autograded by its own ``nbgrader autograde --student`` run, so one
    broken submission cannot hide another's result, and each gets its own time and reason.
    """
    import time

    course, submissions = Path(course).resolve(), Path(submissions).resolve()
    found = collect_submissions(course, submissions)
    if not found:
        raise ValueError(f"no submissions in {submissions}: expected SUBMISSIONS/<student>/lesson-NN/*.ipynb")
    rows: list[GradeRow] = []
    for assignment, students in sorted(found.items()):
        if not (course / "source" / assignment).is_dir():
            raise ValueError(f"{assignment} is not in {course / 'source'}: run prepare/release first")
        max_score = _max_scores(course, assignment)
        if not (course / "release" / assignment).is_dir():
            release(course, [assignment])  # puts the assignment and its graded cells in the gradebook
        for student in students:
            started = time.perf_counter()
            done = nbgrader(course, "autograde", assignment, f"--student={student}", "--create", "--force", check=False)
            seconds = time.perf_counter() - started
            scores = _gradebook_scores(course, assignment)
            if done.returncode == 0 and student in scores:
                rows.append(GradeRow(student, assignment, scores[student], max_score, "graded", seconds))
            else:
                rows.append(
                    GradeRow(student, assignment, 0.0, max_score, _failure_reason(done.stdout + done.stderr), seconds)
                )
        nbgrader(course, "generate_feedback", assignment, "--force", check=False)
    _write_csv(rows, Path(out_csv))
    return rows


def _failure_reason(log: str) -> str:
    if "NotJSONError" in log or "does not appear to be JSON" in log or "JSONDecodeError" in log:
        return "not graded: the file is not a valid notebook (not JSON); scored 0"
    if "DeadKernelError" in log or "Kernel died" in log:
        return "not graded: the kernel died (os._exit, a crash or killed); scored 0"
    last = [line for line in log.splitlines() if line.strip()][-3:]
    return "not graded: autograding failed; scored 0 (" + " | ".join(last)[-300:] + ")"


def _gradebook_scores(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in gb.students:
            try:
                submission = gb.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            scores[student.id] = float(submission.score)
    return scores


def _write_csv(rows: list[GradeRow], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "seconds"])
        for r in rows:
            writer.writerow([r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", r.status, f"{r.seconds:.1f}"])

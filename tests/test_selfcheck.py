"""`slm-course check`: visible checks only, a clear verdict per exercise."""

from __future__ import annotations

import subprocess
import sys

import nbformat

from slm_helpers.selfcheck import check_notebook, format_results, strip_hidden_tests

GRADE = {"grade": True, "solution": False, "locked": True, "schema_version": 3, "points": 2}


def exercise_notebook(path, answer: str):
    cells = [
        nbformat.v4.new_code_cell("from slm_helpers import check"),
        nbformat.v4.new_code_cell(f"def double(x):\n    {answer}"),
        nbformat.v4.new_code_cell(
            "check.equal(double(2), 4, 'double of 2', hint='multiply by two')\n"
            "### BEGIN HIDDEN TESTS\nassert double(5) == 999, 'hidden test ran'\n### END HIDDEN TESTS",
            metadata={"nbgrader": {**GRADE, "grade_id": "ex-double"}},
        ),
        nbformat.v4.new_code_cell(
            "check.equal(1 + 1, 2, 'arithmetic')", metadata={"nbgrader": {**GRADE, "grade_id": "ex-free", "points": 1}}
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_strip_hidden_tests():
    src = "check.x()\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nafter()"
    assert strip_hidden_tests(src) == "check.x()\nafter()"


def test_check_reports_pass_fail_with_the_checks_message(tmp_path):
    solved = check_notebook(exercise_notebook(tmp_path / "solved.ipynb", "return 2 * x"), timeout=60)
    assert [r.passed for r in solved] == [True, True], "hidden tests must not run"
    unsolved = check_notebook(exercise_notebook(tmp_path / "todo.ipynb", "raise NotImplementedError()"), timeout=60)
    assert [r.passed for r in unsolved] == [False, True]
    assert "NotImplementedError" in unsolved[0].message
    wrong = check_notebook(exercise_notebook(tmp_path / "wrong.ipynb", "return x + 1"), timeout=60)
    assert "double of 2" in wrong[0].message and "expected: 4" in wrong[0].message
    table = format_results(wrong)
    assert "1/2 exercises pass (1/3 points)" in table


def test_cli_exit_codes(tmp_path):
    good = exercise_notebook(tmp_path / "good.ipynb", "return 2 * x")
    done = subprocess.run([sys.executable, "-m", "slm_helpers.cli", "check", str(good)], capture_output=True, text=True)
    assert done.returncode == 0 and "2/2 exercises pass" in done.stdout
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    done = subprocess.run(
        [sys.executable, "-m", "slm_helpers.cli", "check", str(broken)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "not a readable notebook" in done.stderr

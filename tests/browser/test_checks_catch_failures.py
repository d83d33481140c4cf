"""Negative controls: the lesson checks must fail on a broken notebook, not pass everything.

A planted notebook, run the same way as the lessons: one widget whose model the kernel never
created (JupyterLab shows "Error displaying widget"), then a cell that raises, then a cell
the error keeps from running. Each of the lesson test's checks must notice its problem.
"""

from __future__ import annotations

import io

import nbformat
import pytest
from PIL import Image

from . import lab_page as page
from .test_lessons import _screenshot_problem, _wait_widgets

PLANTED = "notebooks/zz_planted_failures.ipynb"
MISSING_WIDGET = {"application/vnd.jupyter.widget-view+json": {"model_id": "0" * 32, "version_major": 2,
                                                                "version_minor": 0}, "text/plain": "VBox()"}


def _planted(course) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"from IPython.display import display\ndisplay({MISSING_WIDGET!r}, raw=True)"),
        nbformat.v4.new_code_cell("raise ValueError('planted failure')"),
        nbformat.v4.new_code_cell("print('never runs')"),
    ]
    nbformat.write(nb, course.root / PLANTED)
    return nb


def test_the_checks_catch_a_broken_widget_an_error_and_cells_that_never_ran(course, lab, browser):
    _planted(course)
    try:
        page.open_notebook(browser, lab, PLANTED)
        page.run_all(browser, PLANTED, 120)
        page.save(browser, PLANTED)
        saved = nbformat.read(course.root / PLANTED, as_version=4)
        errors = [o.evalue for c in saved.cells for o in c.outputs if o.output_type == "error"]
        assert errors == ["planted failure"]
        assert [c.execution_count is None for c in saved.cells] == [False, False, True]
        cell = page.css(browser, ".jp-Notebook .jp-Cell")[0]
        with pytest.raises(page.LessonTimeout, match="did not render"):
            _wait_widgets(browser, "cell 0 of the planted notebook", cell, saved.cells[0])
    finally:
        for session in lab.api("/api/sessions") or []:
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")
        (course.root / PLANTED).unlink(missing_ok=True)


def test_a_blank_screenshot_is_refused():
    blank = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(blank, format="PNG")
    assert "blank page" in _screenshot_problem(blank.getvalue(), "")
    assert "404" in _screenshot_problem(blank.getvalue(), "404 : Not Found")

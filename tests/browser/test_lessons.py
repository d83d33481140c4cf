"""Every lesson, run by a learner's hands in JupyterLab (Run > Run All Cells) in headless Chromium.

For each lesson: no cell raises and every code cell ran (read from the notebook JupyterLab
saved); the Mermaid map is an SVG image; every plotly figure is drawn with traces; every
ipywidget is a live widget, not "Loading widget..." or a text repr; the explorers respond to
input; a screenshot goes to build/screenshots/ and must not be blank or an error page.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import nbformat
import pytest
from PIL import Image, ImageStat

from . import lab_page as page
from .conftest import ROOT, SCREENSHOTS

LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN_TIMEOUT = 300  # s; fast mode's bar is 60 s under nbval, the UI adds rendering, slow machines ×3
RENDER_TIMEOUT = 30  # s for one widget, figure or diagram to appear once its cell has run


def _respond_02(driver, name):
    cell = page.cell_with(driver, name, "explore_models = {")
    view = page.css(cell, ".widget-html")[0]
    assert "<b>movie</b>" in view.get_attribute("innerHTML"), f"{name}: explorer did not start on 'film'"
    page.type_into(driver, cell, "queen")
    page.wait_for(f"{name}: the explorer did not show neighbours of 'queen'",
                  lambda: "Nearest to queen" in view.text, RENDER_TIMEOUT)
    return cell


def _respond_03(driver, name):
    cell = page.cell_with(driver, name, "explorer.explorer_widget(")
    view = page.css(cell, ".widget-html")[0]
    page.type_into(driver, cell, "king")
    page.wait_for(f"{name}: the explorer did not show neighbours of 'king'",
                  lambda: "Nearest to king" in view.text, RENDER_TIMEOUT)
    return cell


def _new_image_after(driver, name, cell, move) -> None:
    before = page.images(cell)
    assert before, f"{name}: the widget's cell shows no figure before the slider moves"
    move()
    page.wait_for(f"{name}: moving the slider drew no new figure", lambda: page.images(cell) and
                  page.images(cell) != before, RENDER_TIMEOUT)


def _respond_06(driver, name):
    cell = page.cell_with(driver, name, "widgets.interact(show_head")
    _new_image_after(driver, name, cell, lambda: page.nudge_slider(driver, cell, 1))  # head 0 -> 1
    return cell


def _respond_09(driver, name):
    cell = page.cell_with(driver, name, "widgets.interactive(show_rule")
    labels = [d.text for d in page.css(cell, ".widget-slider .widget-label")]
    assert labels[:1] == ["temperature"], f"{name}: first slider is {labels[:1]}, expected temperature"
    _new_image_after(driver, name, cell, lambda: page.nudge_slider(driver, cell, 0, page.Keys.ARROW_LEFT))
    return cell


def _respond_10(driver, name):
    cell = page.cell_with(driver, name, "query_box = widgets.Text(")
    area = page.css(cell, ".widget-output")[0]
    assert "for 'the acting is wooden'" in area.text, f"{name}: search box did not show its first query"
    page.type_into(driver, cell, "a moving story about a family")
    page.wait_for(f"{name}: the search box did not show results for the new query",
                  lambda: "for 'a moving story about a family'" in area.text, RENDER_TIMEOUT)
    return cell


RESPONDS = {"02": _respond_02, "03": _respond_03, "06": _respond_06, "09": _respond_09, "10": _respond_10}


def _saved(course, name) -> nbformat.NotebookNode:
    return nbformat.read(course.root / "notebooks" / name, as_version=4)


def _wait_widgets(driver, where: str, cell, saved) -> None:
    """Each widget output of the saved cell is a live widget on the page (bounded wait)."""
    at = [k for k, o in enumerate(saved.outputs) if page.WIDGET_MIME in o.get("data", {})]

    def problems() -> list[str]:
        shown = page.cell_outputs(driver, cell)
        if len(shown) != len(saved.outputs):
            return [f"page shows {len(shown)} outputs, the notebook saved {len(saved.outputs)}"]
        return [p for p in (page.widget_problem(shown[k]) for k in at) if p]

    try:
        page.wait_for(f"widget in {where} did not render", lambda: not problems(), RENDER_TIMEOUT)
    except page.LessonTimeout as err:
        raise page.LessonTimeout(f"{err}: {problems()}") from None


def _wait_plotly(driver, where: str, cell, count: int) -> None:
    def drawn() -> bool:
        traces = page.plotly_traces(driver, cell)
        return len(traces) == count and all(traces)

    page.wait_for(f"plotly figure in {where} did not render with traces", drawn, RENDER_TIMEOUT)


def _wait_mermaid(driver, where: str, cell, count: int) -> None:
    def svg_images() -> int:  # JupyterLab draws a Mermaid block as an <img> of SVG
        return sum((i.get_attribute("src") or "").startswith("data:image/svg+xml")
                   and driver.execute_script("return arguments[0].naturalWidth", i) > 0
                   for i in page.css(cell, ".jp-RenderedMermaid img"))

    page.wait_for(f"Mermaid diagram in {where} did not render as SVG", lambda: svg_images() == count, RENDER_TIMEOUT)


def _check_rich_outputs(driver, name, nb) -> object | None:
    """Each widget, plotly figure and Mermaid diagram the saved notebook holds is drawn in the page.

    Returns the first cell that holds one (for the screenshot), or None.
    """
    cells = page.css(driver, ".jp-Notebook .jp-Cell")
    assert len(cells) == len(nb.cells), f"{name}: page shows {len(cells)} cells, the notebook has {len(nb.cells)}"
    first_rich = None
    for index, (cell, saved) in enumerate(zip(cells, nb.cells, strict=True)):
        mimes = [m for o in saved.get("outputs", []) for m in o.get("data", {})]
        plotly = mimes.count(page.PLOTLY_MIME)
        mermaid = saved.source.count("```mermaid") if saved.cell_type == "markdown" else 0
        widgets = page.WIDGET_MIME in mimes
        if not (plotly or mermaid or widgets):
            continue
        page.show(driver, cell)
        first_rich = first_rich or cell
        where = f"cell {index} of {name}"
        if widgets:
            _wait_widgets(driver, where, cell, saved)
        if plotly:
            _wait_plotly(driver, where, cell, plotly)
        if mermaid:
            _wait_mermaid(driver, where, cell, mermaid)
    return first_rich


def _screenshot_problem(png: bytes, page_text: str) -> str | None:
    """Why a screenshot is not a lesson a learner could read: blank, or an error page."""
    for bad in ("404 : Not Found", "500 : Internal Server Error", "Kernel Restarting", "Kernel Dead"):
        if bad in page_text:
            return f"the page shows {bad!r}"
    image = Image.open(io.BytesIO(png)).convert("L")
    spread = ImageStat.Stat(image).stddev[0]
    colours = len(image.getcolors(maxcolors=1 << 16) or range(1 << 16))
    if spread < 8 or colours < 16:
        return f"blank page (grey-level spread {spread:.1f}, {colours} levels)"
    return None


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_and_renders_in_jupyterlab(name, course, lab, browser, report):
    path = f"notebooks/{name}"
    started = time.monotonic()
    try:
        page.open_notebook(browser, lab, path)
        seconds = page.run_all(browser, name, RUN_TIMEOUT)
        page.save(browser, name)
        nb = _saved(course, name)
        errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name} raised in the browser: {errors}"
        not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
        assert not not_run, f"{name}: code cells {not_run} never ran"
        shown = _check_rich_outputs(browser, name, nb)
        respond = RESPONDS.get(name[:2])
        if respond:
            shown = respond(browser, name)
        if shown is not None:
            page.show(browser, shown)
        png = browser.get_screenshot_as_png()
        (SCREENSHOTS / f"{Path(name).stem}.png").write_bytes(png)
        problem = _screenshot_problem(png, browser.find_element(page.By.TAG_NAME, "body").text)
        assert problem is None, f"{name}: screenshot {problem}"
        report[name] = {"run_all_seconds": round(seconds, 1), "total_seconds": round(time.monotonic() - started, 1),
                        "code_cells": sum(c.cell_type == "code" for c in nb.cells),
                        "widgets": sum(m == page.WIDGET_MIME for c in nb.cells for o in c.get("outputs", [])
                                       for m in o.get("data", {})),
                        "plotly": sum(m == page.PLOTLY_MIME for c in nb.cells for o in c.get("outputs", [])
                                      for m in o.get("data", {})),
                        "mermaid": sum(c.source.count("```mermaid") for c in nb.cells if c.cell_type == "markdown"),
                        "responded": respond is not None, "screenshot": f"build/screenshots/{Path(name).stem}.png"}
    except Exception:
        (SCREENSHOTS / f"{Path(name).stem}-FAILED.png").write_bytes(browser.get_screenshot_as_png())
        raise
    finally:
        for session in lab.api("/api/sessions") or []:  # one kernel at a time, as on Binder
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")

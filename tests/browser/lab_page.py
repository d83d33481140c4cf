"""What a learner does in JupyterLab, as Selenium steps: open a notebook, Run > Run All Cells,
wait for the kernel, look at the outputs, type into a widget, move a slider.

Every wait is bounded and fails with a message that names the notebook and the cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
# What JupyterLab shows instead of a widget when the widget manager or the model is missing.
WIDGET_FAILURES = ("Loading widget", "Error displaying widget", "model not found", "Could not create view")


class LessonTimeout(AssertionError):
    """A bounded wait in the browser ran out."""


def wait_for(what: str, condition: Callable[[], Any], timeout: float, poll: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (StaleElementReferenceException, WebDriverException):
            value = None  # the DOM changed under us; look again
        if value:
            return value
        if time.monotonic() > deadline:
            raise LessonTimeout(f"{what} within {timeout:.0f} s")
        time.sleep(poll)


def css(root: Any, selector: str) -> list[Any]:
    """All elements under ``root`` (driver or element) matching a CSS selector."""
    return root.find_elements(By.CSS_SELECTOR, selector)


def open_notebook(driver: Any, server: Any, path: str, timeout: float = 90) -> None:
    """Open ``path`` (relative to the server root) in a fresh JupyterLab workspace; wait for its kernel.

    Ready means: the server has a session for the notebook whose kernel is idle with the page
    connected to it, and the page says idle too (its indicator alone reads "idle" before it
    has connected, and Run All then runs nothing).
    """
    driver.get(f"{server.url}/lab/tree/{path}?reset&token={server.token}")
    wait_for(f"{path}: the notebook did not appear", lambda: css(driver, ".jp-Notebook .jp-Cell"), timeout)

    def kernel_ready() -> bool:
        kernels = [s["kernel"] for s in server.api("/api/sessions") or [] if s.get("path") == path]
        return bool(kernels) and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] >= 1 \
            and kernel_status(driver) == "idle"

    wait_for(f"{path}: the kernel did not start and become idle", kernel_ready, timeout)


def kernel_status(driver: Any) -> str | None:
    """The notebook toolbar's kernel status ("idle", "busy", ...), None before it shows."""
    found = css(driver, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator")
    return found[0].get_attribute("data-status") if found else None


def menu(driver: Any, top: str, command: str) -> None:
    """Click a menu-bar entry (e.g. "Run") and then the item of ``command`` (e.g. "runmenu:run-all")."""
    entry = next((e for e in css(driver, ".lm-MenuBar-item") if e.text == top), None)
    assert entry is not None, f"no {top!r} menu in JupyterLab's menu bar"
    entry.click()
    item = wait_for(f"menu item {command}", lambda: css(driver, f'.lm-Menu-item[data-command="{command}"]'), 10)
    item[0].click()


def code_prompts(driver: Any) -> list[str]:
    """The prompt of every code cell, e.g. "[3]:", "[*]:" (running or queued) or "" (never run)."""
    return [p.text.strip() for p in css(driver, ".jp-Notebook .jp-CodeCell .jp-InputPrompt")]


def run_all(driver: Any, name: str, timeout: float) -> float:
    """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle; seconds taken."""
    start = time.monotonic()
    menu(driver, "Run", "runmenu:run-all")

    def started() -> bool:  # the notebooks open without outputs, so any queued or numbered prompt is this run's
        return any("*" in p or p[1:-2].isdigit() for p in code_prompts(driver))

    wait_for(f"{name}: Run > Run All Cells ran no cell", started, 30, poll=0.2)

    def finished() -> bool:
        return not any("*" in p for p in code_prompts(driver)) and kernel_status(driver) == "idle"

    try:
        wait_for(f"{name}: the cells did not finish", finished, timeout, poll=1.0)
    except LessonTimeout as err:
        running = [i for i, p in enumerate(code_prompts(driver)) if "*" in p]
        raise LessonTimeout(f"{err}; code cells still queued or running: {running[:5]}") from None
    return time.monotonic() - start


def save(driver: Any, name: str, timeout: float = 30) -> None:
    """File > Save Notebook; wait until the tab no longer shows unsaved changes."""
    menu(driver, "File", "docmanager:save")
    wait_for(f"{name}: the notebook was not saved", lambda: not css(driver, ".jp-mod-current.jp-mod-dirty"), timeout)


def cell_with(driver: Any, name: str, source_part: str) -> Any:
    """The code cell whose source contains ``source_part`` (there must be exactly one)."""
    cells = [c for c in css(driver, ".jp-Notebook .jp-CodeCell")
             if any(source_part in e.text for e in css(c, ".jp-InputArea-editor"))]
    assert len(cells) == 1, f"{name}: {len(cells)} code cells contain {source_part!r}"
    show(driver, cells[0])
    return cells[0]


def show(driver: Any, element: Any) -> None:
    """Scroll ``element`` to the middle of the notebook's view, as a learner would before looking."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    time.sleep(0.3)


def cell_outputs(driver: Any, cell: Any) -> list[Any]:
    """A cell's own rendered outputs, in order (not those nested in an Output widget).

    JupyterLab merges consecutive stream outputs as the saved notebook does, so the i-th
    element shows the i-th output of the saved cell.
    """
    script = ("const area = arguments[0].querySelector('.jp-Cell-outputArea');"
              "if (!area) return [];"
              "return Array.from(area.children).map(c => c.querySelector(':scope > .jp-OutputArea-output'));")
    return [o for o in driver.execute_script(script, cell) if o is not None]


def widget_problem(output: Any) -> str | None:
    """Why a widget output is not a working widget, or None."""
    text = output.text
    bad = next((f for f in WIDGET_FAILURES if f in text), None)
    if bad:
        return f"shows {bad!r}"
    if not css(output, ".jupyter-widgets, .widget-box, .widget-inline-hbox, .widget-html"):
        return f"no widget elements (text: {text[:80]!r})"
    return None


def type_into(driver: Any, cell: Any, text: str, index: int = 0) -> None:
    """Replace the text of the ``index``-th text box in a cell's widgets and press Enter."""
    box = css(cell, ".jp-OutputArea input[type='text']")[index]
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text, Keys.ENTER)


def nudge_slider(driver: Any, cell: Any, index: int, key: str = Keys.ARROW_RIGHT) -> None:
    """Move the ``index``-th slider of a cell's widgets one step with the keyboard."""
    handle = css(cell, ".jp-OutputArea .widget-slider .noUi-handle")[index]
    show(driver, handle)
    handle.click()
    handle.send_keys(key)


def images(cell: Any) -> list[str]:
    """The ``src`` of every image in a cell's outputs (matplotlib figures are PNG data URLs)."""
    return [img.get_attribute("src") or "" for img in css(cell, ".jp-OutputArea img")]


def plotly_traces(driver: Any, cell: Any) -> list[int]:
    """For each plotly figure drawn in a cell: how many traces plotly.js laid out (0: drawn empty).

    Read from the graph div plotly.js fills (``_fullData``), which holds for SVG and WebGL
    (3-D) figures alike; a figure whose div has no size counts as 0.
    """
    script = ("const d = arguments[0]; const r = d.getBoundingClientRect();"
              "return (d._fullData && r.width > 0 && r.height > 0) ? d._fullData.length : 0;")
    return [int(driver.execute_script(script, plot)) for plot in css(cell, ".js-plotly-plot")]

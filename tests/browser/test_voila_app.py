"""Lesson 12's app as a learner opens it: Voilà's page in Chromium, no code, a live prediction.

The app serves the release lesson 12 wrote to the session's app folder; when lesson 12 has
not run in this session (this file alone), it is run once here, in fast mode, first.
"""

from __future__ import annotations

import subprocess
import sys
import time

from slm_helpers import deploy

from . import lab_page as page
from . import servers
from .conftest import SCREENSHOTS

APP = "apps/sentiment_app.ipynb"
CODE_MARKS = ("from slm_helpers import deploy", "deploy.current_release()", "display(", "In [")


def _ensure_release(course) -> None:
    if deploy.current_release(course.app_dir) is not None:
        return
    notebooks = course.root / "notebooks"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=600", "--output", str(course.work / "12_ran.ipynb"),
                    "12_deployment.ipynb"], cwd=notebooks, env=course.env, check=True, capture_output=True)
    assert deploy.current_release(course.app_dir) is not None, f"lesson 12 wrote no release to {course.app_dir}"


def _code_on_page(browser) -> list[str]:
    """What on the page is code: source text, code cells' input areas, prompts, editors."""
    text = browser.find_element(page.By.TAG_NAME, "body").text
    return [m for m in CODE_MARKS if m in text] + [
        f"{len(found)} × {sel}" for sel in (".jp-CodeCell .jp-InputArea", ".jp-InputPrompt", ".cm-editor")
        if (found := page.css(browser, sel))]


# The app re-renders its result on every keystroke, so element handles go stale between two
# reads: read the probability and the label in one script call, a consistent snapshot.
_READ_PREDICTION = """
const p = document.querySelector('.slm-p'), label = document.querySelector('.slm-label');
return p && label ? [p.textContent.trim(), label.textContent.trim()] : null;
"""


def _prediction(browser) -> tuple[str, str] | None:
    """The (probability, label) texts the app shows now, or None before it shows one."""
    shown = browser.execute_script(_READ_PREDICTION)
    return tuple(shown) if shown else None


def _settled_prediction(browser, before: tuple[str, str]) -> tuple[str, str] | None:
    """A prediction that differs from `before` and reads the same twice 0.3 s apart (typing done)."""
    now = _prediction(browser)
    if now is None or now == before:
        return None
    time.sleep(0.3)
    return now if _prediction(browser) == now else None


def test_voila_app_page_has_no_code_and_predicts_as_you_type(course, browser):
    _ensure_release(course)
    with servers.voila(course.root / "notebooks" / APP, course.work, course.env) as app:
        browser.get(f"{app.url}/")
        serving = page.wait_for("the app did not show which release it serves",
                                lambda: page.css(browser, ".slm-serving"), 120)
        assert "revision" in serving[0].text, serving[0].text
        leaked = _code_on_page(browser)
        assert not leaked, f"the app page shows code: {leaked}"
        assert not page.css(browser, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"), \
            "the app page shows an error"
        first = page.wait_for("the app showed no first prediction", lambda: _prediction(browser), 30)
        box = page.css(browser, "input[type='text']")[0]
        box.click()
        box.send_keys(page.Keys.CONTROL, "a")
        box.send_keys("a dull , lifeless and tedious mess")
        p_text, shown = page.wait_for("typing a review changed no prediction",
                                      lambda: _settled_prediction(browser, first), 30)
        p_negative_review = float(p_text)
        assert 0.0 <= p_negative_review < float(first[0]), (first, p_text)
        # the label must agree with the probability shown beside it (both read in one snapshot)
        assert shown == ("positive" if p_negative_review > 0.5 else "negative"), (shown, p_negative_review)
        browser.save_screenshot(str(SCREENSHOTS / "12_sentiment_app_voila.png"))


def test_the_code_check_sees_code_when_voila_is_told_to_show_it(course, browser):
    """Negative control: with strip_sources off, the same check must find the app's code."""
    _ensure_release(course)
    with servers.voila(course.root / "notebooks" / APP, course.work, course.env,
                       extra_args=("--VoilaConfiguration.strip_sources=False",)) as app:
        browser.get(f"{app.url}/")
        page.wait_for("the app did not show which release it serves", lambda: page.css(browser, ".slm-serving"), 120)
        leaked = _code_on_page(browser)
        assert any("from slm_helpers import deploy" in m for m in leaked), leaked

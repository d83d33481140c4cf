"""Fixtures of the browser tests: one copy of the course, one JupyterLab, one Chromium per session.

The lessons run in a copy of ``notebooks/`` (JupyterLab saves them after running, so the
repository's clean notebooks are never touched), in fast mode, with the data mirror and a
data cache and app folder of the session's own.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import chrome, servers

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
REPORT = ROOT / "build" / "browser-report.json"


@dataclass
class Course:
    """The session's copy of the course: server root, environment, app folder."""

    root: Path
    work: Path
    env: dict[str, str]
    app_dir: Path


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Course:
    problem = chrome.missing_browser()
    if problem:
        pytest.fail(problem)  # make test-browser installs them; a silent skip would prove nothing
    work = tmp_path_factory.mktemp("browser")
    root = work / "course"
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    app_dir = work / "apps" / "sentiment"
    env = servers.isolated_env(work, {
        "SLM_FAST": "1",
        "SLM_APP_DIR": str(app_dir),
        "SLM_DATA_DIR": os.environ.get("SLM_DATA_DIR", str(work / "data")),
    })
    # A learner answers JupyterLab's news question once; here it is answered before the page opens.
    notification = work / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return Course(root, work, env, app_dir)


@pytest.fixture(scope="session")
def lab(course: Course):
    with servers.jupyter_lab(course.root, course.work, course.env) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    with chrome.chromium() as driver:
        yield driver


@pytest.fixture(scope="session")
def report():
    """Per-lesson records, written to build/browser-report.json at the end of the session."""
    records: dict[str, dict] = {}
    yield records
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(records, indent=2) + "\n")

"""Shared test setup: a private data cache per test session, and the mirror if there is one."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_data_cache(tmp_path_factory: pytest.TempPathFactory):
    # Tests must not depend on (or pollute) the learner's cache.
    if "SLM_DATA_DIR_FOR_TESTS" in os.environ:
        os.environ["SLM_DATA_DIR"] = os.environ["SLM_DATA_DIR_FOR_TESTS"]
    else:
        os.environ["SLM_DATA_DIR"] = str(tmp_path_factory.mktemp("slm-data"))
    yield


@pytest.fixture(scope="session")
def needs_data():  # noqa: PT004 - a skip guard, used for its side effect
    """Skip loudly when neither a mirror nor the network can provide the course data."""
    if not os.environ.get("SLM_DATA_MIRROR"):
        pytest.skip("SLM_DATA_MIRROR is not set (make sets it when ../shared/data exists)")


# The browser tests need Chromium and take minutes: `make test-browser` runs them (it sets this).
collect_ignore = [] if os.environ.get("SLM_BROWSER_TESTS") == "1" else ["browser"]

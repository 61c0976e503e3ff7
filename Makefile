# hea-dvae: `make book` builds the book, `make test` runs every test.
# Everything is installed into .venv from the project's own files.

SHELL := bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Papermill parameters for every chapter, e.g. make book PARAMS="-p n_seeds 2"
PARAMS ?=
# nbval re-executes the committed notebooks and compares their text outputs.
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
CHAPTERS := $(sort $(wildcard book/[0-9][0-9]_*.py))

# Torch picks kernels by CPU (AVX-512 or AVX2), and their rounding differs:
# after a thousand training steps the printed numbers would too. One kernel
# family everywhere makes the executed chapters reproducible across x86 CPUs.
export ATEN_CPU_CAPABILITY ?= avx2
export MKL_CBWR ?= AVX2

.DEFAULT_GOAL := help
.PHONY: help setup data book chapters html test test-fast bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: this exact version is the CPU build; a range
	# would pull a multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[book,test]'
	touch $@

setup: $(STAMP) ## Create .venv and install the package with its extras (quick when done)

data: setup ## Fetch and verify the upstream data (HEA_DVAE_DATA_DIR to use a local copy)
	$(PY) -m hea_dvae fetch

chapters: setup data ## Execute every chapter with Papermill into book/*.ipynb
	$(PY) scripts/execute_chapters.py $(PARAMS) $(CHAPTERS)

html: setup ## Build the HTML book from the executed notebooks (no re-execution)
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "book: _build/html/index.html"

book: chapters html ## Execute the chapters and build the book into _build/html

test: setup data ## Run the whole test suite, nbval over the executed chapters included
	HEA_DVAE_PROGRESS=0 $(VENV)/bin/pytest $(NBVAL) tests book

bench: setup data ## Print training speed and memory
	$(PY) benchmarks/bench_train.py

clean: ## Remove the build, caches and the virtual environment
	rm -rf _build $(VENV) .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

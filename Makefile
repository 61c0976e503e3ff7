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
# The headline page reads the numbers the chapters recorded: executed last.
HEADLINE := book/results.py

# Where executions record the chapters' key numbers (hea_dvae.reporting.record).
RECORDS := _build/records
FRESH := _build/fresh-records
KERNELS := _build/kernel-records
# The smoke run of make test-quick: its notebooks, records, build files and
# models (a few epochs each) stay apart from the book's.
SMOKE := _build/smoke-notebooks
SMOKE_RECORDS := _build/smoke-records
SMOKE_CACHE := _build/smoke-cache
export HEA_DVAE_PROGRESS ?= 0

.DEFAULT_GOAL := help
.PHONY: help setup data book chapters reference html check-book test test-quick test-unit test-book test-kernels bench clean clean-models

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

chapters: setup data ## Execute every chapter with Papermill into book/*.ipynb (records in _build/records)
	rm -rf $(RECORDS)
	HEA_DVAE_RECORD_DIR=$(CURDIR)/$(RECORDS) $(PY) scripts/execute_chapters.py $(PARAMS) $(CHAPTERS) $(HEADLINE)

reference: chapters ## Execute the chapters and write their key numbers to tests/reference (review the diff)
	$(PY) scripts/write_reference.py $(RECORDS) tests/reference

html: setup ## Build the HTML book from the executed notebooks (no re-execution)
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "book: _build/html/index.html"

book: chapters html ## Execute the chapters and build the book into _build/html

check-book: html ## Open every built page in headless Chromium, offline; screenshots in _build/screenshots
	$(PY) scripts/check_book.py --build _build/html --screenshots _build/screenshots

test: test-unit test-book test-kernels ## Every check: unit tests, the chapters re-executed, other CPU kernels

# The inner loop: minutes, not an hour. Every chapter runs with -p profile
# smoke (hea_dvae.reporting.profiles: a few epochs, two seeds, small screens),
# so a broken cell shows up; only the numbers that do not depend on training
# are checked against tests/reference.
test-quick: setup data ## Unit tests not marked slow, every chapter in the smoke profile (run before make test)
	$(VENV)/bin/pytest -m "not slow" tests
	rm -rf $(SMOKE) $(SMOKE_RECORDS)
	HEA_DVAE_CACHE_DIR=$(CURDIR)/$(SMOKE_CACHE) HEA_DVAE_RECORD_DIR=$(CURDIR)/$(SMOKE_RECORDS) \
	  HEA_DVAE_BUILD_DIR=$(CURDIR)/$(SMOKE) $(PY) scripts/execute_chapters.py --jobs 2 --output-dir $(SMOKE) \
	  -p profile smoke -p book_folder $(CURDIR)/$(SMOKE) $(CHAPTERS) $(HEADLINE)
	HEA_DVAE_CHECK_SMOKE=$(CURDIR)/$(SMOKE_RECORDS) $(VENV)/bin/pytest tests/test_reproduction.py -k smoke

test-unit: setup data ## Unit tests, and the committed notebooks' numbers against tests/reference
	$(VENV)/bin/pytest tests

test-book: setup data ## Re-execute every chapter (nbval: exact cells compared), then its numbers within tolerance
	rm -rf $(FRESH)
	HEA_DVAE_RECORD_DIR=$(CURDIR)/$(FRESH) $(VENV)/bin/pytest $(NBVAL) book
	HEA_DVAE_CHECK_RECORDS=$(CURDIR)/$(FRESH) $(VENV)/bin/pytest tests/test_reproduction.py -k executed

# Another CPU's floating-point kernels, reproduced here: chapter 2's training
# runs again with torch's generic kernels and a cold model cache (the recipe
# table, the cross-validation and the corrected-table predictor are skipped
# for time), and its numbers must
# still fall within the reference tolerances. It prints how far they moved.
test-kernels: setup data ## Chapter 2 again with ATEN_CPU_CAPABILITY=default: numbers within tolerance
	rm -rf $(KERNELS) _build/kernel-cache
	ATEN_CPU_CAPABILITY=default HEA_DVAE_CACHE_DIR=$(CURDIR)/_build/kernel-cache \
	  HEA_DVAE_RECORD_DIR=$(CURDIR)/$(KERNELS) $(PY) scripts/execute_chapters.py \
	  --output-dir _build/kernel-notebooks -p recipe_seeds 0 -p cv_folds 0 -p build_predictor false book/02_model.py
	HEA_DVAE_CHECK_RECORDS=$(CURDIR)/$(KERNELS) HEA_DVAE_CHECK_ONLY=02_model HEA_DVAE_CHECK_PARTIAL=1 \
	  $(VENV)/bin/pytest tests/test_reproduction.py -k executed
	$(PY) scripts/compare_records.py tests/reference/02_model.json $(KERNELS)/02_model.json

bench: setup data ## Print speed and memory: training, the ablation grid, screening, command start-up
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_ablation.py
	$(PY) benchmarks/bench_screen.py
	$(PY) benchmarks/bench_startup.py

clean-models: ## Remove the cached trained models (they are retrained on demand)
	$(PY) -c "from hea_dvae import zoo; zoo.clear()"

clean: ## Remove the build, caches and the virtual environment
	rm -rf _build $(VENV) .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

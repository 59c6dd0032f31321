# civickit: `make demo` runs both example apps on bundled data; `make test` runs every test.
# Both set everything up first (virtualenv, Python packages, front-end assets).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# One stamp per set of extras: `make demo` installs only what the apps need;
# tests, docs and benchmarks add their own tools when first asked for.
APPS_STAMP  := $(VENV)/.civickit-apps
DEV_STAMP   := $(VENV)/.civickit-dev
DOCS_STAMP  := $(VENV)/.civickit-docs
BENCH_STAMP := $(VENV)/.civickit-bench
ASSETS := node_modules/.civickit-installed
PYTEST_ARGS ?=

.PHONY: help prereqs install install-dev assets demo test test-dates screenshots bench docs docs-serve lint format dist clean

help:
	@echo "make demo    set up, then run leeds_bins (http://127.0.0.1:8001) and streetwise (http://127.0.0.1:8002)"
	@echo "make test    set up, then run the whole test suite"
	@echo "make test-dates  the whole suite again at each date in scripts/date_sweep.py"
	@echo "make screenshots  retake the phone-width pictures in docs/img (Chromium)"
	@echo "make bench   run the benchmarks in benchmarks/ (figures + ratio to a peer)"
	@echo "make docs    build the documentation site into site/"
	@echo "make lint    ruff (check and format), mypy (strict on civickit/) and the import-layer contract (lint-imports)"
	@echo "make dist    build the library's wheel and sdist into dist/"

prereqs:
	@PYTHON=$(PYTHON) ./scripts/check-prereqs

$(VENV)/bin/python: | prereqs
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# --no-compile: Python compiles only the modules the apps import, when they
# first import them, instead of pip compiling every module of every package
$(APPS_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --no-compile -e '.[apps]'
	@touch $@

$(DEV_STAMP): pyproject.toml $(APPS_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(DOCS_STAMP): pyproject.toml $(APPS_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	@touch $@

$(BENCH_STAMP): pyproject.toml $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $@

install: $(APPS_STAMP)
install-dev: $(DEV_STAMP) $(DOCS_STAMP)

$(ASSETS): package.json | prereqs
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# Copy the pinned npm packages into each app's static/vendor (and compile its Sass).
assets: $(ASSETS) $(APPS_STAMP)
	$(BIN)/python -m scripts.build_assets

demo: install assets
	$(BIN)/python -m examples.demo

# the docs-site test builds the site, so tests take the docs tools too
test: install-dev assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The whole suite again with the clock at other dates (every Python process the tests
# start included), to find code and tests that pass only before some date:
# DATES="2030-01-01" picks the dates (scripts/date_sweep.py lists the default ones).
test-dates: install-dev assets
	$(BIN)/python -m scripts.date_sweep $(DATES) -- $(or $(PYTEST_ARGS),-n auto)

# The pictures in docs/img: the browser tests take them on the clock they set, and
# copy them there only when this target asks (a plain `make test` writes no tracked file).
screenshots: install-dev assets
	CIVICKIT_DOCS_IMG=$(CURDIR)/docs/img $(BIN)/python -m pytest -q \
	  "tests/examples/test_leeds_bins_browser.py::test_resident_journey_with_axe_and_screenshots" \
	  "tests/examples/test_streetwise_browser.py::test_phone_width_screenshot"

bench: $(BENCH_STAMP) assets
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk (Debian) for the HTTP benchmarks"; \
	  { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || \
	  sudo -n apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  echo "could not install wrk: the HTTP benchmarks fall back to a Python load generator"; }
	$(BIN)/python -m benchmarks $(BENCH)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# the wheel and sdist of the library (the apps run from this repository)
dist: $(DEV_STAMP)
	rm -rf dist build  # build/lib would carry files a rename left behind into the wheel
	$(BIN)/python -m build --outdir dist .

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd examples/starter && MYPYPATH=$(CURDIR) $(abspath $(BIN))/mypy
	$(BIN)/lint-imports --no-cache

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules site build dist *.egg-info .pytest_cache .ruff_cache examples/*/static/vendor examples/starter/app/static/vendor

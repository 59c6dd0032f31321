# civickit: `make demo` runs both example apps on bundled data; `make test` runs every test.
# Both set everything up first (virtualenv, Python packages, front-end assets).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.civickit-installed
ASSETS := node_modules/.civickit-installed
PYTEST_ARGS ?=

.PHONY: help prereqs install assets demo test bench docs docs-serve lint format clean

help:
	@echo "make demo    set up, then run leeds_bins (http://127.0.0.1:8001) and streetwise (http://127.0.0.1:8002)"
	@echo "make test    set up, then run the whole test suite"
	@echo "make bench   run the benchmarks in benchmarks/ (figures + ratio to a peer)"
	@echo "make docs    build the documentation site into site/"
	@echo "make lint    ruff (check and format) and mypy (strict on civickit/)"

prereqs:
	@PYTHON=$(PYTHON) ./scripts/check-prereqs

$(STAMP): pyproject.toml | prereqs
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,docs,bench]'
	@touch $@

install: $(STAMP)

$(ASSETS): package.json | prereqs
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# Copy the pinned npm packages into each app's static/vendor (and compile its Sass).
assets: $(ASSETS) $(STAMP)
	$(BIN)/python -m scripts.build_assets

demo: install assets
	$(BIN)/python -m examples.demo

test: install assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install assets
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk (Debian) for the HTTP benchmarks"; \
	  { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || \
	  sudo -n apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  echo "could not install wrk: the HTTP benchmarks fall back to a Python load generator"; }
	$(BIN)/python -m benchmarks $(BENCH)

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules site build *.egg-info .pytest_cache .ruff_cache examples/*/static/vendor

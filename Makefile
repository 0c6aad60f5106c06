# Cadence: `make run` serves the app with a Celery worker and beat; `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

# The newest Python 3.12+ on this machine (Django 6.1 needs 3.12): on PATH, or under pyenv.
PYTHON ?= $(shell for name in python3.14 python3.13 python3.12 python3 python; do \
	  path=$$(command -v $$name 2>/dev/null) || continue; \
	  $$path -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$path; exit 0; }; \
	done; \
	for path in $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  $$path -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$path; exit 0; }; \
	done)

.PHONY: run test install test-tools lint typecheck check clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Cadence needs Python 3.12 or newer (Django 6.1). Install it, or set PYTHON=/path/to/python3.12."; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

# The browser tests' accessibility sweep injects axe-core (npm, MPL-2.0) from here.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the accessibility sweep (tests/browser/test_accessibility.py) will skip"; fi

test-tools: node_modules/.installed

run: export DEBUG ?= 1
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) load_deck && $(MANAGE) load_prompts
	$(MANAGE) ensure_demo_user
	@echo "Cadence on http://127.0.0.1:8000 (web, Celery worker and beat; Ctrl-C stops all)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

test: install test-tools
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest $(PYTEST_ARGS)

# lint and typecheck use an installed virtualenv as it is: they install only when a tool
# is missing, never again because pyproject.toml changed (install, test and run do that).
# (An order-only `| $(VENV)/.installed` would still remake that stamp when it is stale.)
$(BIN)/ruff $(BIN)/lint-imports $(BIN)/mypy: | $(BIN)/python
	$(MAKE) --no-print-directory install

lint: | $(BIN)/ruff $(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: | $(BIN)/mypy
	DEBUG=1 $(BIN)/mypy .

check: lint typecheck test

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules

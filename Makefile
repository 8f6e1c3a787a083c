# Two commands from a fresh clone: `make run` (the whole local stack) and `make test` (the whole suite).
# Each installs what it needs into .venv; only Python 3.11+ and make are assumed.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint fmt check openapi install clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

## run: moto on $MOTO_PORT (4566), tables from infra/, demo application, API on $PORT (8000), tick, invoker
run: $(STAMP)
	$(PY) -m chalicelib.local

## test: the whole suite (unit, API, engine, end-to-end through the local stack)
test: $(STAMP)
	$(PY) -m pytest

## test-fast: the suite without the slow end-to-end tests
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

check: lint test

## openapi: regenerate the committed docs/openapi.json from the contracts
openapi: $(STAMP)
	$(PY) -m chalicelib.contracts.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

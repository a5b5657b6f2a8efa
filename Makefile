# Set-up and day-to-day commands. Every target installs what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint typecheck unit contracts bench

$(BIN)/seat-manager: pyproject.toml requirements.lock
	scripts/setup.sh

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

setup: $(BIN)/seat-manager node_modules/.package-lock.json

## run the API on the embedded SQLite store (a local .env is made from .env.example once)
run: setup
	scripts/run.sh

## the whole suite: lint, types, unit, integration (PostgreSQL, anvil), migrations
test: setup
	scripts/test.sh

unit: setup
	$(BIN)/pytest -q tests/unit

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: setup
	$(BIN)/mypy

contracts: setup
	$(BIN)/python scripts/build_contracts.py

## benchmarks: each script prints its figures and ratios (PostgreSQL and anvil local); all run,
## and the target fails if any script missed its target
bench: setup
	@status=0; for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || status=1; done; exit $$status

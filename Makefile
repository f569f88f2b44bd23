# The two commands a newcomer needs: `make run` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres?schema=bench

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck unit services schema bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the ledger with its development tools

run: install ## load demo cases into the SQLite default (./ledger.db) and show them
	$(BIN)/ledger demo

services: ## make sure PostgreSQL answers at 127.0.0.1:5432 (starts the local cluster)
	@infra/scripts/ensure-postgres.sh

lint: install ## ruff
	$(BIN)/ruff check .

typecheck: install ## mypy (strict)
	$(BIN)/mypy domain projections services infra tests bench

unit: install services ## pytest only
	$(BIN)/pytest -q

test: install services lint typecheck ## everything CI runs: lint, types, all tests
	$(BIN)/pytest -q

schema: install ## regenerate schemas/interchange-event.json from the event catalogue
	$(BIN)/ledger schema > schemas/interchange-event.json

bench: install services ## benchmarks with same-run baselines; results appended to BENCHMARKS.md
	$(BIN)/python -m bench.import_bench --database-url '$(BENCH_DATABASE_URL)' --events $${BENCH_EVENTS:-100000}
	$(BIN)/python -m bench.projection_bench --database-url '$(BENCH_DATABASE_URL)'

clean: ## remove the virtualenv and local databases
	rm -rf $(VENV) ledger.db .mypy_cache .ruff_cache .pytest_cache

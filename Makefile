# The two commands a newcomer needs: `make run` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres?schema=bench

.DEFAULT_GOAL := help
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install run test lint typecheck audit unit services browser loadgen schema bench profile soak attack clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The AsyncAPI 3 JSON Schema, which tests/test_asyncapi.py validates our document with.
ASYNCAPI_SPECS := $(VENV)/share/asyncapi-specs-6.11.1.tgz
$(ASYNCAPI_SPECS): | $(STAMP)
	@mkdir -p $(dir $@)
	curl -fsSL --retry 3 -o $@.part https://registry.npmjs.org/@asyncapi/specs/-/specs-6.11.1.tgz
	echo "01af8744dc33c0c7eb2e908f6a955319ee58b70ecadc9387d1aeb16c0cd28928  $@.part" | sha256sum -c --quiet
	mv $@.part $@

install: $(STAMP) $(ASYNCAPI_SPECS) ## create .venv and install the ledger with its development tools

# A new demo store each day: the demo's files are as of today.
DEMO_URL := sqlite:///demo/ledger-$(shell date +%F).db
run: install ## load today's demo files into demo/ (SQLite) and serve the API and pages
	@mkdir -p demo
	LEDGER_DATABASE_URL=$(DEMO_URL) $(BIN)/ledger demo
	LEDGER_DATABASE_URL=$(DEMO_URL) $(BIN)/ledger serve --demo --port $${PORT:-8000}

services: ## make sure PostgreSQL answers at 127.0.0.1:5432 (starts the local cluster)
	@infra/scripts/ensure-postgres.sh

lint: install ## ruff
	$(BIN)/ruff check .

typecheck: install ## mypy (strict)
	$(BIN)/mypy domain projections services infra tests bench

browser: ## Debian's chromium (browser tests), kcat (feed tests), poppler-utils (PDF tests): apt-get, root or sudo
	@test -x $(CHROMIUM) -a -x /usr/bin/kcat -a -x /usr/bin/pdftoppm || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium kcat poppler-utils >/dev/null; }

loadgen: ## Debian's wrk, the native load generator of the HTTP benchmark and profile
	@test -x /usr/bin/wrk || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

unit: install services browser ## pytest only
	$(BIN)/pytest -q

test: install services browser lint typecheck audit ## everything CI runs: lint, types, audit, all tests
	$(BIN)/pytest -q

audit: install ## known vulnerabilities in the installed dependencies (pip-audit)
	$(BIN)/python infra/scripts/audit_dependencies.py

schema: install ## regenerate schemas/interchange-event.json from the event catalogue
	$(BIN)/ledger schema > schemas/interchange-event.json
	$(BIN)/ledger feed --schema > schemas/feed-message.json
	env -u LEDGER_FEED_TOPIC -u LEDGER_FEED_PARTITIONS $(BIN)/ledger feed --asyncapi > schemas/feed-asyncapi.json

BENCH_SCALE ?= 1m
bench: install services loadgen ## every benchmark on SQLite and PostgreSQL, baselines in the same run (BENCH_SCALE=1m, 250k or national); results appended to BENCHMARKS.md
	$(BIN)/python -m bench.scale_bench --database-url '$(BENCH_DATABASE_URL)' --scale $(BENCH_SCALE)
	$(BIN)/python -m bench.import_bench --database-url '$(BENCH_DATABASE_URL)' --events $${BENCH_EVENTS:-100000}
	$(BIN)/python -m bench.projection_bench --database-url '$(BENCH_DATABASE_URL)'
	$(BIN)/python -m bench.http_bench --database-url '$(BENCH_DATABASE_URL)'
	$(BIN)/python -m bench.feed_bench --database-url '$(BENCH_DATABASE_URL)'
	$(BIN)/python -m bench.audit_bench --database-url '$(BENCH_DATABASE_URL)'

PROFILE_CASES ?= 20000
profile: install services loadgen ## py-spy flame graphs of `ledger import` and `ledger project --rebuild` (bench/out/profile-*.svg), and of `ledger serve` under wrk (top functions printed)
	@mkdir -p bench/out && rm -f bench/out/profile.db
	$(BIN)/ledger simulate --cases $(PROFILE_CASES) --seed 10 --today 2026-11-01 > bench/out/profile.jsonl
	LEDGER_DATABASE_URL=sqlite:///bench/out/profile.db LEDGER_MASTER_KEY_FILE=bench/out/profile.key \
		$(BIN)/py-spy record -o bench/out/profile-import.svg -- $(BIN)/ledger import --quiet bench/out/profile.jsonl
	LEDGER_DATABASE_URL=sqlite:///bench/out/profile.db LEDGER_MASTER_KEY_FILE=bench/out/profile.key \
		$(BIN)/py-spy record -o bench/out/profile-rebuild.svg -- $(BIN)/ledger project --rebuild --quiet
	$(BIN)/python -m bench.profile_http --database-url '$(BENCH_DATABASE_URL)'

attack: install services ## issue 19's attack run again: every hole's tests, faults, tampering, WAL scan, restore, more fuzzing; figures appended to BENCHMARKS.md
	$(BIN)/python -m bench.attack --database-url '$(BENCH_DATABASE_URL)'

soak: install services ## a bounded steady load (SOAK_MINUTES, default 10) with a final consistency check; results in BENCHMARKS.md
	$(BIN)/python -m bench.soak --database-url '$(BENCH_DATABASE_URL)' --minutes $${SOAK_MINUTES:-10} --rate $${SOAK_RATE:-30} --clients 6

clean: ## remove the virtualenv and local databases
	rm -rf $(VENV) ledger.db .mypy_cache .ruff_cache .pytest_cache

# WithUs: `make run` to try it, `make test` to check it. Both set everything up themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: run test lint typecheck imports pytest install postgres chromium axe clean benchmark benchmark-exports benchmark-page messages lock lock-check audit

run: $(STAMP)
	$(BIN)/withus db upgrade
	$(BIN)/withus surveys load surveys/library
	$(BIN)/withus serve --host $(HOST) --port $(PORT)

test: $(STAMP) postgres chromium axe lint typecheck imports lock-check pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "WithUs needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# requirements.lock pins every package production installs (the Dockerfile installs from it,
# with hashes). `make lock` re-resolves it from pyproject.toml (needs PyPI); `make lock-check`
# (part of `make test`, offline) fails when pyproject.toml's dependencies changed since.
lock: $(STAMP)
	$(BIN)/python tools/lock.py write

lock-check: $(STAMP)
	$(BIN)/python tools/lock.py check

# Known vulnerabilities in the locked packages, from the PyPI advisory database (needs the
# internet; CI does not run it). Run it before each release and after `make lock`.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --disable-pip --require-hashes --progress-spinner off -r requirements.lock

# The suite runs every database test twice: on SQLite and on a throwaway PostgreSQL
# cluster that pg_virtualenv starts and removes (it works as root, unlike initdb).
# pytest-xdist spreads the tests over PYTEST_WORKERS processes (auto: one per core; 0: none,
# all in this process), each with its own databases, temporary folder and browser. Each file
# goes to one worker (--dist loadfile, biggest first), so a module-scoped fixture (a seeded
# server, a browser, a simulated consultation) is built once, not once per worker.
PYTEST_WORKERS ?= auto
pytest: $(STAMP) postgres chromium axe
	pg_virtualenv -t sh -c 'WITHUS_TEST_POSTGRES_URL="postgresql+psycopg://$$PGUSER:$$PGPASSWORD@$$PGHOST:$$PGPORT/$${PGDATABASE:-postgres}" $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)'

# Debian's PostgreSQL server, installed when missing (needs root or sudo).
postgres:
	@if ! command -v pg_virtualenv >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	  echo "installing Debian's postgresql for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql postgresql-common >/dev/null; \
	fi

# Debian's Chromium for the browser tests, installed when missing (needs root or sudo).
# Playwright launches /usr/bin/chromium; it never downloads a browser of its own.
chromium:
	@if ! [ -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# axe-core (the accessibility checker) from the npm registry, as pinned in package-lock.json.
AXE := tests/browser/node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Export time and peak memory per format, and the survey page, over a million answers.
benchmark-exports: $(STAMP)
	$(BIN)/python benchmarks/export_benchmark.py

# The survey page over a million answers, unfiltered and with each filter, on SQLite and
# then PostgreSQL (benchmarks/README.md, "Exports and the survey page").
benchmark-page: $(STAMP) postgres
	$(BIN)/python benchmarks/export_benchmark.py --formats "" $(BENCH_ARGS)
	pg_virtualenv -t sh -c 'WITHUS_BENCH_POSTGRES_URL="postgresql+psycopg://$$PGUSER:$$PGPASSWORD@127.0.0.1:$$PGPORT/$${PGDATABASE:-postgres}" $(BIN)/python benchmarks/export_benchmark.py --formats "" $(BENCH_ARGS)'

# The webhook hot path on SQLite and PostgreSQL (benchmarks/README.md). 127.0.0.1, not
# $PGHOST: "localhost" may resolve to ::1, and the benchmark's traffic stays on 127.0.0.1.
benchmark: $(STAMP) postgres
	pg_virtualenv -t sh -c 'WITHUS_BENCH_POSTGRES_URL="postgresql+psycopg://$$PGUSER:$$PGPASSWORD@127.0.0.1:$$PGPORT/$${PGDATABASE:-postgres}" $(BIN)/python benchmarks/webhook_load.py $(BENCH_ARGS)'

# Re-extract system messages, merge them into every catalogue, and compile (see
# docs/translating.md). Commit the .pot, .po and .mo files.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k _:2 -k gettext:2 -k t --add-comments=Translators: --sort-by-file -w 100 --project=WithUs -o surveys/locale/messages.pot .
	$(BIN)/pybabel update -i surveys/locale/messages.pot -d surveys/locale -D withus -w 100 --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d surveys/locale -D withus --statistics

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache .pytest_cache build *.egg-info

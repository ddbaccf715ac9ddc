# WithUs: `make run` to try it, `make test` to check it. Both set everything up themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: run test lint typecheck imports pytest install postgres chromium clean benchmark

run: $(STAMP)
	$(BIN)/withus db upgrade
	$(BIN)/withus surveys load surveys/library
	$(BIN)/withus serve --host $(HOST) --port $(PORT)

test: $(STAMP) postgres lint typecheck imports pytest

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

# The suite runs every database test twice: on SQLite and on a throwaway PostgreSQL
# cluster that pg_virtualenv starts and removes (it works as root, unlike initdb).
pytest: $(STAMP) postgres
	pg_virtualenv sh -c 'WITHUS_TEST_POSTGRES_URL="postgresql+psycopg://$$PGUSER:$$PGPASSWORD@$$PGHOST:$$PGPORT/$${PGDATABASE:-postgres}" $(BIN)/python -m pytest $(PYTEST_ARGS)'

# Debian's PostgreSQL server, installed when missing (needs root or sudo).
postgres:
	@if ! command -v pg_virtualenv >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	  echo "installing Debian's postgresql for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql postgresql-common >/dev/null; \
	fi

benchmark: $(STAMP) postgres
	pg_virtualenv sh -c 'WITHUS_BENCH_POSTGRES_URL="postgresql+psycopg://$$PGUSER:$$PGPASSWORD@$$PGHOST:$$PGPORT/$${PGDATABASE:-postgres}" $(BIN)/python benchmarks/webhook_load.py'

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache .pytest_cache build *.egg-info

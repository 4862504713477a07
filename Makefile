# carve: `make run` and `make test` do all the set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := $(wildcard carve servicekit contracts messaging monolith extracted analyzer proxy routetable parity)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/carve
AMQP_TEST_URL ?= amqp://guest:guest@127.0.0.1:5672//

.PHONY: run demo test lint types contracts pytest pytest-real install migrate seed clean help

help:
	@echo "make run    install (first time), migrate, seed, run every service and the proxy (:8080)"
	@echo "make demo   a narrated migration on a private stack; exits 0 if nothing was lost"
	@echo "make test   ruff, mypy, import-linter contracts, pytest (add CARVE_TEST_REAL=1 for PostgreSQL too)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --no-input

seed: migrate
	$(BIN)/python manage.py seed

# Everything in embedded mode: monolith, payments and inventory (web, worker, relay each)
# and the proxy, logs interleaved; Ctrl-C stops it all. BASE_PORT=N moves the ports.
run: install
	$(BIN)/carve stack up $(if $(BASE_PORT),--base-port $(BASE_PORT))

# A migration in a few minutes on a private stack (var/demo, ports 18000-18002, 18080).
demo: install
	$(BIN)/carve demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy $(PACKAGES) tests

contracts: install
	$(BIN)/lint-imports

# The embedded pass (SQLite, filesystem broker), whatever the shell says.
pytest: install
	env -u CARVE_TEST_REAL -u DATABASE_URL -u CELERY_BROKER_URL $(BIN)/pytest -q

# The second pass: the same suite on PostgreSQL (and RabbitMQ once events exist).
pytest-real: install
	CARVE_TEST_REAL=1 DATABASE_URL=$(PG_TEST_URL) CELERY_BROKER_URL=$(AMQP_TEST_URL) $(BIN)/pytest -q

test: lint types contracts pytest
	@if [ "$$CARVE_TEST_REAL" = "1" ]; then $(MAKE) --no-print-directory pytest-real; fi

clean:
	rm -rf var/*.sqlite3 var/*.sqlite3-* var/*.writelock var/broker

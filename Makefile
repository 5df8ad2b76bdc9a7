# The two commands the README promises: `make run` and `make test`. Each builds .venv itself.
# `make test-container` runs the MySQL tests against a throwaway Docker container (README,
# section Testing). `make bench` runs the benchmarks (README, section Benchmarks); neither is
# part of `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench clean sql

# Debian packages the tests drive: Chromium renders /docs offline (tests/support/browser.py),
# nginx checks deploy/nginx.conf (`nginx -t`). Installed with apt when missing.
SYSTEM_TEST_DEPS := /usr/bin/chromium /usr/sbin/nginx

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "pixyproxy needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pixyproxy serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

$(SYSTEM_TEST_DEPS):
	apt-get update && apt-get install -y --no-install-recommends chromium nginx-light

test: lint $(SYSTEM_TEST_DEPS)
	$(BIN)/pytest

# The administrators' scripts in sql/, from the migrations; commit what this writes.
sql: $(STAMP)
	$(BIN)/python -m pixyproxy.adapters.driven.sql.admin_scripts sql

ROWS ?= 100000
DB ?= mysql
BENCH_ARGS ?=

bench: $(STAMP)
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		{ apt-get update && apt-get install -y wrk nginx; }
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m bench --rows $(ROWS) --db $(DB) $(BENCH_ARGS)

.PHONY: test-container
test-container: $(STAMP)
	bash tests/containers/test-container.sh $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

# Afterdark — `make run` starts the app, `make test` runs every check. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)
APT_RUN := build-essential cmake
APT_TEST := chromium fonts-dejavu-core espeak-ng
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export AFTERDARK_DATA_DIR ?= $(CURDIR)/data
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)

.PHONY: help install install-test run test lint fix lock bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install Afterdark with its pinned dependencies (idempotent)

$(STAMP): requirements.lock pyproject.toml
	@scripts/apt-ensure $(APT_RUN)
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	@echo "Installing dependencies (the first run compiles llama.cpp: about 5 minutes)..."
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps "torch==2.13.0"
	@$(UV) pip install -q --compile-bytecode --no-deps --python $(PY) -r requirements.lock
	@$(UV) pip install -q --python $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install-test: install ## Also the system packages the tests need (Chromium)
	@scripts/apt-ensure $(APT_TEST)

run: install ## Install, migrate, seed and serve on http://127.0.0.1:8000 (embedded model)
	@$(VENV)/bin/afterdark db upgrade
	@$(VENV)/bin/afterdark serve --host 127.0.0.1 --port 8000

lint: install ## ruff format --check, ruff check, mypy
	@$(VENV)/bin/ruff format --check src tests benchmarks
	@$(VENV)/bin/ruff check src tests benchmarks
	@$(VENV)/bin/mypy

fix: install ## Format and autofix
	@$(VENV)/bin/ruff format src tests benchmarks
	@$(VENV)/bin/ruff check --fix src tests benchmarks

test: install-test lint ## Install, lint, then the whole pytest suite (SQLite, PostgreSQL, Chromium)
	@$(VENV)/bin/pytest -n 2 --dist loadgroup --ignore=tests/e2e
	@$(VENV)/bin/pytest tests/e2e

lock: ## Re-resolve requirements.lock from pyproject.toml
	@$(UV) pip compile pyproject.toml --extra dev --overrides overrides.txt --python-version 3.11 \
		--generate-hashes -o requirements.lock -q

bench: install ## Run the benchmarks
	@$(PY) benchmarks/streaming.py

clean: ## Remove the virtual environment and caches (keeps ./data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

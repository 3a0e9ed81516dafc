# One entry point for everything: `make run` (embedded default) and `make test` set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock shared/pyproject.toml services/*/pyproject.toml | sha1sum | cut -c1-12)
LOCAL_PACKAGES := -e shared -e services/identity -e services/diary -e services/reminders -e services/outcomes

export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: help install lock backing-services lint format test bench run clean

help:
	@echo "make run    start every service on the embedded default (SQLite, file broker, demo data)"
	@echo "make test   lint and run every test suite on PostgreSQL and Redis"
	@echo "make bench  print the benchmark tables"
	@echo "make lint   ruff and mypy;  make format  apply ruff's formatting"
	@echo "make lock   re-resolve dependencies into requirements.lock"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): $(UV)
	test -x $(BIN)/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation $(LOCAL_PACKAGES)
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Re-resolve after changing a pyproject.toml. Commits only the hash-pinned exports: everything
# for development and CI, and the runtime set (no test or lint tools) that the images install.
lock: $(UV)
	$(UV) lock
	$(UV) export --frozen --all-groups --no-emit-workspace --no-header --no-annotate -o requirements.lock
	$(UV) export --frozen --no-dev --group build --no-emit-workspace --no-header --no-annotate -o requirements-runtime.lock

backing-services:
	scripts/backing-services.sh

lint: install
	scripts/lint.sh

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install backing-services lint
	scripts/test.sh

bench: install backing-services
	scripts/bench.sh

run: install
	$(BIN)/python deploy/embedded/run.py

clean:
	rm -rf $(VENV) $(TOOLS) var

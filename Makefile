# okta-teamviewer-sync — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC := shared/tvsync functions tests bench

.PHONY: help venv test lint typecheck cfn-lint pytest bench demo build clean

help:
	@echo "make demo   - run the whole pipeline locally on embedded AWS and emulators"
	@echo "make test   - lint, type-check, cfn-lint and run the test suite"
	@echo "make lint   - ruff + mypy + cfn-lint only"
	@echo "make bench  - benchmarks (results appended to docs/benchmarks.md)"
	@echo "make build  - sam build (needs the AWS SAM CLI)"

# The venv is (re)built when pyproject.toml changes; a fresh clone needs nothing else.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy
	for f in functions/*/app.py; do $(BIN)/mypy $$f || exit 1; done
	$(BIN)/mypy bench
	$(BIN)/cfn-lint template.yaml

test: lint
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench

demo: $(STAMP)
	$(BIN)/tvsync demo

build:
	@if command -v sam >/dev/null 2>&1; then \
		sam build; \
	else \
		echo "AWS SAM CLI not found: install it (https://docs.aws.amazon.com/serverless-application-model/) to build and deploy."; \
		echo "Everything else (make test, make demo) works without it."; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

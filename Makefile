# okta-teamviewer-sync — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC := shared/tvsync shared/verify_layer.py functions tests bench
# Exact versions and sha256 hashes; `make lock` refreshes both from pyproject.toml.
# The layer lock is what Lambda runs (python3.13, arm64); the dev lock pins the same runtime
# versions plus the tools, for every Python >= 3.11 on any platform.
LAYER_LOCK := shared/requirements.lock.txt
DEV_LOCK := requirements-dev.lock.txt
# The resolver `make lock` uses (from PyPI, into a throwaway venv); bump it deliberately.
UV_VERSION := 0.13.9

.PHONY: help venv test test-fast lint typecheck cfn-lint pytest bench demo build package publish lock clean

help:
	@echo "make demo   - run the whole pipeline locally on embedded AWS and emulators"
	@echo "make test   - lint, type-check, cfn-lint and run the test suite (on every core)"
	@echo "make test-fast - the unit tier only: the core and the services over in-memory fakes (seconds)"
	@echo "make lint   - ruff + mypy + cfn-lint only"
	@echo "make bench  - benchmarks (results appended to .tvsync/benchmarks.md)"
	@echo "make build  - sam build (needs the AWS SAM CLI); the layer is built from $(LAYER_LOCK) and verified"
	@echo "make package S3_BUCKET=<bucket> - make build, then sam package into that bucket: packaged.yaml"
	@echo "make publish S3_BUCKET=<bucket> - make package, then sam publish to the AWS Serverless Application Repository"
	@echo "make lock   - re-resolve $(LAYER_LOCK) and $(DEV_LOCK) (needs PyPI)"

# The venv is (re)built when pyproject.toml or the dev lock changes; a fresh clone needs only
# Python and pip. Everything comes from the lock, hash-checked - pip, and the setuptools that
# builds the editable project too (hence no build isolation, which would fetch it unpinned).
# shared/tvsync/__init__.py holds the version the installed metadata carries.
$(STAMP): pyproject.toml $(DEV_LOCK) shared/tvsync/__init__.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy
	for f in functions/*/app.py; do $(BIN)/mypy $$f || exit 1; done
	$(BIN)/mypy bench
	$(BIN)/mypy tests
	$(BIN)/mypy shared/verify_layer.py
	$(BIN)/cfn-lint template.yaml

# pytest-xdist starts one worker per core the machine has (-n auto). Every tier, the slow
# soak included: this is what CI runs.
test: lint
	$(BIN)/python -m pytest -n auto -q

# The unit tier (tests/conftest.py marks each test by its directory): no sockets, no processes,
# no sleeps. In one process: starting xdist workers would cost more than the tests take.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit -n 0 -q

# Results go to .tvsync/benchmarks.md (git-ignored); docs/benchmarks.md holds the curated runs.
bench: $(STAMP)
	$(BIN)/python -m bench

demo: $(STAMP)
	$(BIN)/tvsync demo

# SharedLayer builds through shared/Makefile: exactly $(LAYER_LOCK) (arm64 cp313 wheels), the
# runtime part of tvsync, then shared/verify_layer.py. samconfig.toml holds sam's defaults.
build:
	@if command -v sam >/dev/null 2>&1; then \
		sam build; \
	else \
		echo "AWS SAM CLI not found: install it (https://docs.aws.amazon.com/serverless-application-model/) to build and deploy."; \
		echo "Everything else (make test, make demo) works without it."; \
		exit 1; \
	fi

# What the AWS Serverless Application Repository takes: the built template with its code,
# LICENSE and README.md (template.yaml's AWS::ServerlessRepo::Application) uploaded to
# S3_BUCKET. The bucket is checked first, before anything is built, so a missing one is
# reported whether or not the SAM CLI is installed; `make build` says when that is missing.
package:
	@if [ -z "$(strip $(S3_BUCKET))" ]; then \
		echo "S3_BUCKET is not set: run make package S3_BUCKET=<bucket>, a bucket of yours in the region you"; \
		echo "deploy or publish to. sam package uploads the built code, LICENSE and README.md there."; \
		exit 2; \
	fi
	@$(MAKE) --no-print-directory build
	sam package --template-file .aws-sam/build/template.yaml --s3-bucket "$(strip $(S3_BUCKET))" \
		--output-template-file packaged.yaml

# The Serverless Application Repository reads the uploaded files itself: S3_BUCKET's policy
# must allow serverlessrepo.amazonaws.com s3:GetObject. The first run creates the (private)
# application; a run with a new SemanticVersion adds that version.
publish: package
	sam publish --template packaged.yaml

# `make lock` re-resolves after pyproject.toml changed, keeping every pin that still fits;
# `make lock UPGRADE=1` moves everything to the newest versions allowed.
# 1. the layer: shared/requirements.txt resolved for Lambda (CPython 3.13, manylinux2014
#    aarch64), wheels only; 2. the dev environment: the dev extra plus pip and the build
#    backend, for every Python >= 3.11 on any platform, with the layer lock as constraints
#    so tests run the versions Lambda runs. uv lives in a throwaway venv: `make test` never
#    needs it. tests/test_packaging.py checks the result against pyproject.toml.
lock:
	@set -euo pipefail; tools=$$(mktemp -d); trap 'rm -rf "$$tools"' EXIT; \
	$(PYTHON) -m venv "$$tools"; \
	"$$tools/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"; \
	export UV_CUSTOM_COMPILE_COMMAND="make lock"; \
	"$$tools/bin/uv" pip compile --quiet $(if $(UPGRADE),--upgrade) --generate-hashes --only-binary :all: \
		--python-platform aarch64-manylinux2014 --python-version 3.13 \
		shared/requirements.txt -o $(LAYER_LOCK); \
	$(PYTHON) -c "import tomllib; print('pip', *tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" | \
	"$$tools/bin/uv" pip compile --quiet $(if $(UPGRADE),--upgrade) --generate-hashes --universal --python-version 3.11 \
		--extra dev -c $(LAYER_LOCK) pyproject.toml - -o $(DEV_LOCK)
	@echo "$(LAYER_LOCK) and $(DEV_LOCK) are up to date; review the diff, then make test"

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache packaged.yaml

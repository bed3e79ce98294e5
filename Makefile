# Ori developer entry points. `make up` runs Ori locally; `make test` runs every test.
# Both set themselves up (uv, the Python workspace, the server binaries) on first use.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS_CACHE ?= $(or $(ORI_TOOLS_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ori-tools)
export ORI_TOOLS_CACHE := $(TOOLS_CACHE)
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS_CACHE)/uv-$(UV_VERSION)/bin/uv)
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(TOOLS_CACHE)/uv-$(UV_VERSION)/bin/uv:
	python3 -m venv $(TOOLS_CACHE)/uv-$(UV_VERSION)
	$(TOOLS_CACHE)/uv-$(UV_VERSION)/bin/pip install -q uv==$(UV_VERSION)

.PHONY: sync
sync: $(UV) ## install the Python workspace from uv.lock, bytecode compiled as in the images
	$(UV) sync --frozen --compile-bytecode
	@# Workers run optimised (PYTHONOPTIMIZE=2, as their image does): their bytecode too.
	$(RUN) --no-sync python -m compileall -q -j 0 -o 2 images/worker/src libs/contracts/src \
	  "$$($(RUN) --no-sync python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

.PHONY: tools
tools: ## build or install the real servers into $(TOOLS_CACHE)
	tools/build.sh

.PHONY: up
up: sync tools ## run Ori locally on embedded defaults (Ctrl-C stops it)
	$(RUN) ori-up

.PHONY: generate
generate: sync ## regenerate docs/configuration.md, the .env.example files and the CRDs
	$(RUN) python tools/gen_config.py
	$(RUN) python tools/gen_crds.py

.PHONY: lint
lint: sync ## ruff, import boundaries, Dockerfiles, generated-file drift
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) hadolint images/*/Dockerfile operator/Dockerfile
	$(RUN) python tools/gen_config.py --check
	$(RUN) python tools/gen_crds.py --check
	bash -n tools/build.sh .ci/run

.PHONY: typecheck
typecheck: sync ## mypy --strict over every member, tests included
	$(RUN) mypy libs/contracts/src images/backend/src images/worker/src images/dialler/src operator/src e2e/src tools/gen_config.py tools/gen_crds.py \
		libs/contracts/tests images/backend/tests images/worker/tests operator/tests e2e/tests tools/tests

.PHONY: unit
unit: sync ## unit tests only (no servers)
	$(RUN) pytest -m unit $(PYTEST_ARGS)

.PHONY: test
test: sync tools lint typecheck ## everything: lint, types, unit, integration and e2e tests
	$(RUN) pytest $(PYTEST_ARGS)

.PHONY: bench-backend
bench-backend: sync tools ## backend benchmark: runtime config, ingestion, CSV import (build/bench/backend.json)
	$(RUN) python images/backend/bench/bench_backend.py

.PHONY: e2e
e2e: sync tools ## Kubernetes end to end on the real control plane: CRDs, operator, router, chart
	$(RUN) pytest e2e/tests/test_k8s_*.py $(PYTEST_ARGS)

.PHONY: bench-fleet
bench-fleet: sync tools ## fleet benchmark: allocation, scale-up, busy workers kept, reconcile latency (build/bench/fleet.json)
	$(RUN) python operator/bench/fleet.py

.PHONY: bench-worker
bench-worker: sync tools ## worker benchmark: caller-perceived latency, barge-in, pickup, calls/core, memory (build/bench/worker.json)
	$(RUN) python images/worker/bench/bench_worker.py
	$(RUN) python images/worker/bench/bench_smart_turn_memory.py

.PHONY: bench
bench: bench-backend bench-fleet bench-worker ## every benchmark; figures in docs/benchmarks.md

.PHONY: fmt
fmt: sync ## format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: clean
clean: ## remove local state (.ori/) and caches inside the repo
	rm -rf .ori .pytest_cache .mypy_cache .ruff_cache

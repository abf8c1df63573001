# Two commands on a fresh machine:  `make run` (install + serve)  and  `make test` (install + all tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run build test lint system-deps js-deps clean

# torch first, from the local CPU build: any other spec pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Builds the index from the shipped corpus on first run, then serves the API, widget and demo page.
run: install
	HF_HUB_OFFLINE=1 $(BIN)/dgm-assistant serve

build: install
	HF_HUB_OFFLINE=1 $(BIN)/dgm-assistant build

# Debian's chromium (browser tests), redis-server (two-replica test), wrk (the benchmark's load generator) and
# npm (the browser tests' axe-core) and postgresql (the feedback store's PostgreSQL tests; its programs live in
# /usr/lib/postgresql/<version>/bin, off the PATH); installed when missing and root.
SYSTEM_DEPS := chromium redis-server wrk npm postgresql
system-deps:
	@missing=""; for c in $(SYSTEM_DEPS); do \
	  if [ "$$c" = postgresql ]; then \
	    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing $$c"; \
	  else command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; fi; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	  else \
	    echo "note: install$$missing (apt-get install -y$$missing) for the browser, Redis, PostgreSQL and load tests"; \
	  fi; \
	fi

# The browser tests' JavaScript (axe-core, the accessibility audit), exactly as package-lock.json pins it.
JS_STAMP := node_modules/.package-lock.json
$(JS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

js-deps: system-deps $(JS_STAMP)

test: install system-deps js-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check ingest index assistant eval tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var out test-results node_modules

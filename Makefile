# Two commands on a fresh machine: `make demo` and `make test`. Everything lands in .venv/ and
# the local Neo4j (jars, data, logs, password) in .neo4j/, the local NATS in .nats/, all git-ignored.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
RESOLVER := $(BIN)/resolver
export RESOLVER_NEO4J_HOME ?= $(CURDIR)/.neo4j
export RESOLVER_NATS_HOME ?= $(CURDIR)/.nats
EXAMPLE ?= examples/catalog.json

.PHONY: install demo demo-nats test lint neo4j-start neo4j-stop neo4j-status nats-start nats-stop nats-status bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# the example's batch id, read when a recipe needs it (after install made the venv)
DEMO_BATCH = $(shell $(BIN)/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["batchId"])' $(EXAMPLE))

demo: install
	@if [ -z "$$NEO4J_URI" ]; then $(RESOLVER) neo4j start; fi
	$(RESOLVER) load $(EXAMPLE) --replace
	$(RESOLVER) run $(DEMO_BATCH) --dispatch-log out/demo-dispatch.jsonl
	$(RESOLVER) status $(DEMO_BATCH)
	@echo
	$(RESOLVER) browse $(DEMO_BATCH)

# The same example through NATS JetStream: the local NATS (unless RESOLVER_NATS_URL is set, with
# RESOLVER_NATS_USER/_PASSWORD), two `resolver worker` processes with the example handler, one run.
NATS_BATCH ?= catalog-nats
HANDLER ?= python:examples.nats_handler:create

demo-nats: install
	@if [ -z "$$NEO4J_URI" ]; then $(RESOLVER) neo4j start; fi
	@set -e; \
	if [ -z "$$RESOLVER_NATS_URL" ]; then \
	  eval "$$($(RESOLVER) nats start | sed -n 's/^Connect the resolver with: //p')"; \
	fi; \
	$(RESOLVER) worker "$$RESOLVER_NATS_URL" --handler $(HANDLER) & w1=$$!; \
	$(RESOLVER) worker "$$RESOLVER_NATS_URL" --handler $(HANDLER) & w2=$$!; \
	trap 'kill -TERM $$w1 $$w2 2>/dev/null || true' EXIT; \
	echo "$(RESOLVER) run $(EXAMPLE) --batch-id $(NATS_BATCH) --replace --adapter $$RESOLVER_NATS_URL"; \
	$(RESOLVER) run $(EXAMPLE) --batch-id $(NATS_BATCH) --replace --adapter "$$RESOLVER_NATS_URL" \
	  --dispatch-log out/demo-nats-dispatch.jsonl; \
	kill -TERM $$w1 $$w2; wait $$w1 $$w2 || true; \
	echo; echo "$(RESOLVER) status $(NATS_BATCH)"; $(RESOLVER) status $(NATS_BATCH)

lint: install
	$(BIN)/ruff check resolver tests benchmarks
	$(BIN)/mypy

test: lint
	sh tests/system_setup.sh
	$(BIN)/pytest -q -p no:cacheprovider

neo4j-start: install
	$(RESOLVER) neo4j start

neo4j-stop: install
	$(RESOLVER) neo4j stop

neo4j-status: install
	$(RESOLVER) neo4j status

nats-start: install
	$(RESOLVER) nats start

nats-stop: install
	$(RESOLVER) nats stop

nats-status: install
	$(RESOLVER) nats status

bench: install
	@if [ -z "$$NEO4J_URI" ]; then $(RESOLVER) neo4j start; fi
	$(BIN)/python benchmarks/bench.py

clean:
	-$(RESOLVER) neo4j stop
	-$(RESOLVER) nats stop
	rm -rf $(VENV) .neo4j .nats out build *.egg-info

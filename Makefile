.DEFAULT_GOAL := help
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)
PY := .venv/bin/python
export SECMONKEY_MONGO_URL ?= mongodb://127.0.0.1:27017/
export SECMONKEY_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(UV):
	python3 -m venv .venv-tools && .venv-tools/bin/pip install -q uv

.PHONY: bootstrap
bootstrap: $(UV) ## Create .venv with every workspace member (uv sync --frozen)
	$(UV) sync --frozen --all-packages

.PHONY: up
up: ## Start local RabbitMQ and the MongoDB-protocol server (safe to run twice)
	deploy/local/up.sh

.PHONY: down
down: ## Stop what `make up` started, nothing else
	deploy/local/down.sh

.PHONY: lint
lint: ## ruff + mypy --strict
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs services

.PHONY: fmt
fmt: ## Format and autofix
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

.PHONY: browser
browser: ## Install Debian's chromium for browser tests
	deploy/local/browser.sh

.PHONY: pdftools
pdftools: ## Install Debian's poppler-utils (pdftotext) for the evidence-package PDF tests
	deploy/local/pdftools.sh

.PHONY: test
test: bootstrap up browser pdftools lint ## Install, start what tests need, lint, run every test
	$(UV) run --frozen python deploy/local/clean_queues.py
	$(UV) run --frozen python deploy/local/vhosts.py prune test-
	$(UV) run --frozen pytest

.PHONY: run
run: bootstrap up ## Run the whole system locally (a simulated AWS estate when no account is configured)
	$(UV) run --frozen python deploy/local/run.py

.PHONY: bench
bench: bench-collector bench-auditor bench-notifier bench-api ## Every benchmark

.PHONY: bench-collector bench-auditor bench-notifier bench-api bench-realtime
bench-collector bench-auditor bench-notifier bench-api bench-realtime: bootstrap up
	SECMONKEY_AMQP_URL=$$($(UV) run --frozen python deploy/local/vhosts.py create $@) && \
	  export SECMONKEY_AMQP_URL && $(UV) run --frozen python bench/$(subst bench-,,$@)/run.py; \
	  status=$$?; $(UV) run --frozen python deploy/local/vhosts.py delete $@; exit $$status

.PHONY: bench-scale
bench-scale: bootstrap up ## secmonkey vs c7n-org on the AWS stand-in, 100 accounts x 17 regions (SCALE_ARGS="--accounts 20 --regions 4")
	SECMONKEY_AMQP_URL=$$($(UV) run --frozen python deploy/local/vhosts.py create $@) && \
	  export SECMONKEY_AMQP_URL && $(UV) run --frozen python bench/scale/run.py $(SCALE_ARGS); \
	  status=$$?; $(UV) run --frozen python deploy/local/vhosts.py delete $@; exit $$status

.PHONY: bench-first-sight
bench-first-sight: bootstrap ## The collector's sweep and the auditor's first sight each alone, 100 x 17 x 20 on the stand-in (own RabbitMQ node and mongo-compat; FIRST_SIGHT_ARGS="--auditors 2")
	$(UV) run --frozen python bench/scale/first_sight.py $(FIRST_SIGHT_ARGS)

.PHONY: bench-flowlogs
bench-flowlogs: bootstrap up ## Flow logs: 10 M records over 1,000 interfaces and 5,000 rules from moto S3 (FLOWLOGS_ARGS="--records 1000000")
	$(UV) run --frozen python bench/flowlogs/run.py $(FLOWLOGS_ARGS)

.PHONY: bench-mongo-compat
bench-mongo-compat: bootstrap ## mongo-compat: concurrent writers with SQLite's busy back-off vs its polling handler, on servers of its own
	$(UV) run --frozen python bench/mongo_compat/run.py $(MONGO_COMPAT_ARGS)

.PHONY: bench-amqp
bench-amqp: bootstrap up ## Publishing CPU: aio-pika's Exchange.publish vs the Publisher's publish_many, confirmed, on a virtual host of its own (AMQP_ARGS="--messages 40000")
	$(UV) run --frozen python bench/amqp/publish.py $(AMQP_ARGS)

.PHONY: bench-replicas
bench-replicas: bootstrap up ## Auditor groups/s with 1, 2 and 3 replicas on one backlog (REPLICAS_ARGS="--groups 50")
	$(UV) run --frozen python bench/replicas/run.py $(REPLICAS_ARGS)

.PHONY: chaos
chaos: bootstrap up ## Chaos suite: one fault at a time, on a private broker node and database (CHAOS_ARGS="--short"), then the cluster node loss
	$(UV) run --frozen python bench/chaos/run.py $(CHAOS_ARGS)
	$(UV) run --frozen python bench/chaos/node_loss.py $(CLUSTER_ARGS)

.PHONY: chaos-cluster
chaos-cluster: bootstrap up ## A RabbitMQ node lost while changes flow: three private nodes on loopback (CLUSTER_ARGS="--steps 30")
	$(UV) run --frozen python bench/chaos/node_loss.py $(CLUSTER_ARGS)

.PHONY: soak
soak: bootstrap up ## Soak: 10x make run's change rate for 30 minutes, RSS and latency each minute (SOAK_ARGS="--minutes 5")
	$(UV) run --frozen python bench/soak/run.py $(SOAK_ARGS)

# breakfix — see README.md. Every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE := $(or $(BREAKFIX_STATE),$(or $(XDG_STATE_HOME),$(HOME)/.local/state)/breakfix)
KIND_CLUSTER ?= breakfix
export KIND_CLUSTER
KIND_KUBECONFIG := $(STATE)/kind/$(KIND_CLUSTER).kubeconfig
CLUSTER := $(PYTHON) hack/kind
# The pinned kubectl built with the cluster, when there is one.
K8S_BIN := $(shell ls -d $(or $(BREAKFIX_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/breakfix)/k8s/*/bin 2>/dev/null | tail -1)
export PATH := $(if $(K8S_BIN),$(K8S_BIN):,)$(CURDIR)/$(BIN):$(PATH)
FIRST_LAB ?= crashloop-bad-command
IMAGE ?= breakfix/operator:$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
export IMAGE
CHART := charts/breakfix
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(BIN)/.installed ## create .venv with breakfix and its dev tools

.PHONY: cluster-up
cluster-up: ## the kind cluster alone (1 control-plane, 2 workers); prints export KUBECONFIG=...
	@$(CLUSTER) up

.PHONY: cluster-status
cluster-status: ## the cluster's health, and the memory of the node containers
	@$(CLUSTER) status

.PHONY: up
up: venv ## quick start: a kind cluster, the operator from its image via Helm, and a first Lab
	@$(CLUSTER) up --deploy >/dev/null
	@KUBECONFIG=$(KIND_KUBECONFIG) $(MAKE) --no-print-directory first-lab

.PHONY: first-lab
first-lab:
	@printf 'apiVersion: breakfix.dev/v1alpha1\nkind: Lab\nmetadata:\n  name: first\nspec:\n  scenario: $(FIRST_LAB)\n' \
	  | kubectl apply -f -
	@kubectl wait --for=condition=Ready --timeout=180s lab/first
	@echo
	@echo "Your first lab is ready. Next (kubectl's current context is kind-$(KIND_CLUSTER)):"
	@echo "  kubectl get lab first -o jsonpath='{.status.namespace}'   # where to work: lab-first"
	@echo "  kubectl get lab first -o jsonpath='{.status.task}'          # the task"
	@echo "  kubectl get labs -w                                         # watch it turn Solved"
	@echo "  docker exec -it $(KIND_CLUSTER)-worker bash                   # a shell on a node"

.PHONY: down
down: ## undo 'make up': delete the kind cluster; stop the Docker engine if breakfix started it
	@$(CLUSTER) down

.PHONY: image
image: ## build the operator image (make up builds and loads it too)
	@$(CLUSTER) image

.PHONY: install
install: venv ## apply the CRDs and the built-in Scenarios to the current cluster (no operator)
	kubectl apply --server-side -f crds/
	kubectl wait --for=condition=Established --timeout=60s crd/labs.breakfix.dev crd/scenarios.breakfix.dev
	breakfix export labs/ | kubectl apply --server-side -f -

.PHONY: run
run: venv ## development: the operator as a local process against the current kubeconfig
	@echo "One operator acts at a time: while the chart's leads, this one waits as a standby. To take over: kubectl -n breakfix-system scale deploy/breakfix --replicas=0"
	$(BIN)/python -m breakfix.controller

.PHONY: chart-scenarios
chart-scenarios: venv ## regenerate the chart's built-in Scenarios and CRDs from labs/ and crds/
	$(BIN)/breakfix export labs/ > $(CHART)/files/scenarios.yaml
	cp crds/*.yaml $(CHART)/crds/

.PHONY: chart-lint
chart-lint: venv ## helm lint the chart and actionlint the CI workflows
	@helm=$$(hack/go-tool.sh helm) && $$helm lint --strict $(CHART)
	@actionlint=$$(hack/go-tool.sh actionlint) && $$actionlint .github/workflows/*.yml examples/*.yml

.PHONY: lint
lint: venv ## ruff and mypy
	$(BIN)/ruff check operator tests hack bench
	$(BIN)/ruff format --check operator tests hack bench
	$(BIN)/mypy

.PHONY: unit
unit: venv ## unit tests (no cluster)
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

LAB ?=
SELFTEST_ARGS ?=
.PHONY: selftest
selftest: venv ## prove every lab (or LAB=<id>) with the kind cluster's operator; writes selftest.junit.xml
	@eval "$$($(CLUSTER) up)" && $(CLUSTER) deploy && \
	$(BIN)/breakfix selftest labs/ $(if $(LAB),--lab $(LAB)) --operator external \
	  --junit selftest.junit.xml $(SELFTEST_ARGS)

BENCH_ARGS ?=
.PHONY: bench
bench: venv ## benchmark the in-cluster operator on kind against a 5 s poller; prints a table, writes bench-results/bench.json
	@eval "$$($(CLUSTER) up)" && $(BIN)/python bench/run.py $(BENCH_ARGS)

.PHONY: bench-compare
bench-compare: venv ## two bench runs side by side with ratios: make bench-compare A=old.json B=new.json
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make bench-compare A=old.json B=new.json"; exit 2; }
	@$(BIN)/python bench/compare.py $(A) $(B)

.PHONY: chaos
chaos: venv ## faults, churn and hostile learners on the kind cluster: 100 churn cycles, kills, an API outage
	BREAKFIX_CHURN_CYCLES=100 $(BIN)/pytest tests/integration -m chaos -q -s -ra $(PYTEST_ARGS)

.PHONY: test
test: venv lint chart-lint ## everything: lint, unit tests, then every integration test on kind
	$(BIN)/breakfix validate labs/
	$(BIN)/pytest tests/unit -q -ra $(PYTEST_ARGS)
	@# The cluster, its builds on a cold cache (about 20 minutes) included, before the tests that
	@# use it: inside one, they would count against that test's timeout.
	@$(if $(BREAKFIX_TEST_KUBECONFIG),,$(CLUSTER) up --deploy --values=tests/integration/operator-values.yaml >/dev/null)
	$(BIN)/pytest tests/integration -q -ra $(PYTEST_ARGS)

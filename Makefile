# breakfix — see README.md. Every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE := $(or $(BREAKFIX_CLUSTER_DIR),$(or $(XDG_STATE_HOME),$(HOME)/.local/state)/breakfix/cluster)
LOCAL_KUBECONFIG := $(STATE)/admin.kubeconfig
RUN_DIR := $(or $(XDG_STATE_HOME),$(HOME)/.local/state)/breakfix/run
# The pinned kubectl built with the cluster, when there is one.
K8S_BIN := $(shell ls -d $(or $(BREAKFIX_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/breakfix)/k8s/*/bin 2>/dev/null | tail -1)
export PATH := $(if $(K8S_BIN),$(K8S_BIN):,)$(CURDIR)/$(BIN):$(PATH)
FIRST_LAB ?= crashloop-bad-command
IMAGE ?= breakfix/operator:$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
KIND_CLUSTER ?= breakfix
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
cluster-up: ## start the local cluster (no Docker needed); prints export KUBECONFIG=...
	@$(PYTHON) hack/cluster.py up

.PHONY: cluster-down
cluster-down: ## stop the local cluster and remove every trace of it
	@$(PYTHON) hack/cluster.py down

.PHONY: cluster-status
cluster-status: ## show the local cluster's processes and memory
	@$(PYTHON) hack/cluster.py status

.PHONY: install
install: venv ## apply the CRDs and the built-in Scenarios to the current cluster
	kubectl apply --server-side -f crds/
	kubectl wait --for=condition=Established --timeout=60s crd/labs.breakfix.dev crd/scenarios.breakfix.dev
	breakfix export labs/ | kubectl apply --server-side -f -

.PHONY: run
run: venv ## run the operator in the foreground against the current kubeconfig
	$(BIN)/python -m breakfix.controller

.PHONY: up
up: venv ## quick start: a cluster, the CRDs, the operator and a first Lab (kind if Docker answers)
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory up-kind; else $(MAKE) --no-print-directory up-local; fi

.PHONY: up-local
up-local: venv
	@$(PYTHON) hack/cluster.py up
	@KUBECONFIG=$(LOCAL_KUBECONFIG) $(MAKE) --no-print-directory install
	@mkdir -p $(RUN_DIR)
	@if [ -f $(RUN_DIR)/operator.pid ] && kill -0 $$(cat $(RUN_DIR)/operator.pid) 2>/dev/null; then \
	  echo "operator already running (pid $$(cat $(RUN_DIR)/operator.pid))"; \
	else \
	  KUBECONFIG=$(LOCAL_KUBECONFIG) nohup $(BIN)/python -m breakfix.controller >$(RUN_DIR)/operator.log 2>&1 & \
	  echo $$! > $(RUN_DIR)/operator.pid; \
	  echo "operator started (pid $$!, log $(RUN_DIR)/operator.log)"; \
	fi
	@KUBECONFIG=$(LOCAL_KUBECONFIG) $(MAKE) --no-print-directory first-lab \
	  FIRST_STEP="export KUBECONFIG=$(LOCAL_KUBECONFIG)"

.PHONY: up-kind
up-kind: venv image
	@kind=$$(hack/go-tool.sh kind) && helm=$$(hack/go-tool.sh helm) && \
	if ! $$kind get clusters 2>/dev/null | grep -qx $(KIND_CLUSTER); then \
	  $$kind create cluster --name $(KIND_CLUSTER) --wait 120s; \
	fi && \
	$$kind load docker-image --name $(KIND_CLUSTER) $(IMAGE) && \
	$$helm upgrade --install breakfix $(CHART) --namespace breakfix-system --create-namespace \
	  --kube-context kind-$(KIND_CLUSTER) --set image.repository=$(firstword $(subst :, ,$(IMAGE))) \
	  --set image.tag=$(lastword $(subst :, ,$(IMAGE))) --wait --timeout 180s
	@kubectl config use-context kind-$(KIND_CLUSTER) >/dev/null
	@$(MAKE) --no-print-directory first-lab

.PHONY: first-lab
first-lab:
	@printf 'apiVersion: breakfix.dev/v1alpha1\nkind: Lab\nmetadata:\n  name: first\nspec:\n  scenario: $(FIRST_LAB)\n' \
	  | kubectl apply -f -
	@kubectl wait --for=condition=Ready --timeout=180s lab/first
	@echo
	@echo "Your first lab is ready. Next:"
	@$(if $(FIRST_STEP),echo "  $(FIRST_STEP)")
	@echo "  kubectl get lab first -o jsonpath='{.status.namespace}'   # where to work: lab-first"
	@echo "  kubectl get scenario $(FIRST_LAB) -o jsonpath='{.spec.task}'   # the task"
	@echo "  kubectl get labs -w                                         # watch it turn Solved"

.PHONY: down
down: ## undo 'make up': the operator and local cluster, or the kind cluster
	@if [ -f $(RUN_DIR)/operator.pid ]; then kill $$(cat $(RUN_DIR)/operator.pid) 2>/dev/null || true; rm -f $(RUN_DIR)/operator.pid; fi
	@if docker info >/dev/null 2>&1; then $$(hack/go-tool.sh kind) delete cluster --name $(KIND_CLUSTER); fi
	@$(PYTHON) hack/cluster.py down

.PHONY: image
image: ## build the operator image (needs Docker)
	docker build -t $(IMAGE) .

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
selftest: venv ## prove every lab (or LAB=<id>) on the current cluster; writes selftest.junit.xml
	@if [ -z "$$KUBECONFIG" ] && ! kubectl config current-context >/dev/null 2>&1; then \
	  eval "$$($(PYTHON) hack/cluster.py up)"; fi; \
	$(BIN)/breakfix selftest labs/ $(if $(LAB),--lab $(LAB)) --junit selftest.junit.xml $(SELFTEST_ARGS)

BENCH_ARGS ?=
.PHONY: bench
bench: venv ## benchmark against the current (or local) cluster: latency, scale, poller baseline
	@if [ -z "$$KUBECONFIG" ] && ! kubectl config current-context >/dev/null 2>&1; then \
	  eval "$$($(PYTHON) hack/cluster.py up)"; fi; \
	$(BIN)/python bench/run.py $(BENCH_ARGS)

.PHONY: test
test: venv lint chart-lint ## everything: lint, unit tests, then integration tests on the local cluster
	$(BIN)/breakfix validate labs/
	$(BIN)/pytest tests -q -ra $(PYTEST_ARGS)

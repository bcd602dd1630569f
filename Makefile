# Breakwater — run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Node 24 is the target; scripts/setup-node.sh brings a project-local one when the system's is older.
export PATH := $(CURDIR)/.breakwater/node/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# @kubernetes/client-node is ESM-only: jest needs its ESM mode.
JEST := NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning" jest
NODE := node --no-warnings=ExperimentalWarning
KUBECONFIG_KIND := $(CURDIR)/.breakwater/kind/breakwater/kubeconfig
# kubectl matching kind's node version: $KUBEBUILDER_ASSETS or TEST_ASSET_KUBECTL first, else the cache.
KUBECTL = "$$(if [ -n "$${TEST_ASSET_KUBECTL:-}" ]; then echo "$$TEST_ASSET_KUBECTL"; \
  elif [ -x "$${KUBEBUILDER_ASSETS:-/nonexistent}/kubectl" ]; then echo "$$KUBEBUILDER_ASSETS/kubectl"; \
  else echo "$$(tools/cluster/build-binaries.sh kubectl)/kubectl"; fi)"

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Setup

.PHONY: setup
setup: .breakwater/node/.ok node_modules/.installed ## Install Node 24 (if the system's is older) and npm dependencies.

.breakwater/node/.ok: scripts/setup-node.sh
	@scripts/setup-node.sh
	@mkdir -p .breakwater/node && touch $@

node_modules/.installed: package.json package-lock.json | .breakwater/node/.ok
	@echo ">> npm install (from package-lock.json)"
	@# npm ci rejects this lock file over platform-specific optional packages npm 11 leaves out
	@# of it; npm install still installs exactly the locked versions.
	@npm install --no-audit --no-fund --loglevel=error
	@touch $@

##@ Development

.PHONY: tools
tools: ## Install promtool, lua5.1, redis-server, redis-sentinel, podman, buildah, runc, debootstrap and mmdebstrap (Debian packages) when missing; the tests and make image run them.
	@scripts/ensure-tools.sh test

.PHONY: demo-tools
demo-tools: ## Check what make demo and make up use: docker and go where a Docker engine answers (no package, no root); else podman, buildah, runc, debootstrap, mmdebstrap as root. Names what is missing and how to get it (apt, dnf, Homebrew).
	@scripts/ensure-tools.sh demo

.PHONY: clients
clients: .breakwater/clients-venv/.ok ## Install the Python clients test/clients runs against the runtime (anthropic, litellm) into .breakwater/clients-venv.

.breakwater/clients-venv/.ok: test/clients/requirements.txt
	@echo ">> python3 venv .breakwater/clients-venv (test/clients/requirements.txt)"
	@python3 -m venv .breakwater/clients-venv
	@.breakwater/clients-venv/bin/pip install --quiet --disable-pip-version-check -r test/clients/requirements.txt
	@touch $@

.PHONY: build
build: setup ## Compile TypeScript into dist/, with the Lua scripts the runtime reads beside it, and bundle each program (dist/runtime/bundle/ and dist/bundle/, what the image and the binaries run).
	scripts/build-dist.sh

.PHONY: generate
generate: setup ## Generate CRDs, TypeScript types, the API reference, config assets and the samples' models from their sources.
	$(NODE) scripts/generate.ts
	$(NODE) scripts/configAssets.ts
	$(NODE) scripts/apiReference.ts
	test/chart/sync-chart-files.sh
	$(NODE) scripts/sampleModels.ts

.PHONY: verify-generated
verify-generated: setup ## Fail when generated files differ from what `make generate` writes.
	$(NODE) scripts/generate.ts --check
	$(NODE) scripts/configAssets.ts --check
	$(NODE) scripts/apiReference.ts --check
	test/chart/sync-chart-files.sh --check
	$(NODE) scripts/sampleModels.ts --check

.PHONY: typecheck
typecheck: setup ## Type-check everything, tests included.
	tsc -p tsconfig.json --noEmit

.PHONY: lint
lint: setup ## Run typescript-eslint (strictTypeChecked) and check the import rules (`make imports`).
	eslint --max-warnings=0 .
	$(NODE) scripts/importGraph.ts

.PHONY: imports
imports: setup ## Check the import graph: programs meet only in contract/, the operator never loads the Anthropic SDK, no cycles.
	$(NODE) scripts/importGraph.ts

.PHONY: format
format: setup ## Format the code with prettier.
	prettier --write --log-level=warn .

.PHONY: format-check
format-check: setup ## Check formatting with prettier.
	prettier --check --log-level=warn .

##@ Test

.PHONY: test
test: setup tools clients ## Run every check and test (static checks, then unit and the tests that need no cluster, beside the cluster's first builds; integration on a one-node kind cluster, brought up and taken down; make e2e-kind).
	scripts/test-all.sh

.PHONY: test-unit
test-unit: setup ## Run the unit tests only (pure logic, no cluster).
	$(JEST) --ci --selectProjects unit

.PHONY: test-properties
test-properties: setup tools ## Run every property test (*.property.test.ts: budgets, the journal) long on a real redis-server: BREAKWATER_PROPERTY_RUNS=N (default 500), BREAKWATER_PROPERTY_SEED another seed.
	BREAKWATER_PROPERTY_RUNS=$${BREAKWATER_PROPERTY_RUNS:-500} $(JEST) --ci --testPathPatterns '\.property\.test\.ts$$' --selectProjects unit local --testTimeout 3600000

.PHONY: test-history
test-history: setup tools ## Run the spend history checker long (about 1 min a round on a loaded 2-core machine, 10 at most): three runtimes on one redis-server, seeded mixed workloads with /v1/agent/invoke calls and a replica SIGKILLed mid-call each round, checked against docs/guarantees.md; SPEND_HISTORY_ROUNDS (5) × SPEND_HISTORY_CALLS (120) from SPEND_HISTORY_SEED (50), SPEND_HISTORY_KILLS (1) a round; a line per round; figures to bench/results/spend-history.json.
	SPEND_HISTORY_ROUNDS=$${SPEND_HISTORY_ROUNDS:-5} SPEND_HISTORY_CALLS=$${SPEND_HISTORY_CALLS:-120} SPEND_HISTORY_RESULTS=$${SPEND_HISTORY_RESULTS:-bench/results/spend-history.json} $(JEST) --ci --testPathPatterns 'test/rateLimitStore/spendHistory\.test\.ts$$' --selectProjects local --testTimeout 3600000

.PHONY: test-integration
test-integration: setup tools ## Run the integration tests (those that need no cluster too) on a one-node kind cluster (TESTS=test/operator narrows them; a running one is used and left up). Hold /tmp/bw-cluster.lock.
	$(JEST) --ci --selectProjects local integration $(if $(TESTS),--testPathPatterns $(TESTS))

##@ Demo

.PHONY: demo
demo: setup demo-tools ## See it work: a one-node kind cluster, operator, simulator, 3 agent replicas; the primary model down (fallback serves), the provider down (fast 503s), recovery, a live policy edit; then clean up. BREAKWATER_REACH=port-forward reaches the pods without host routes (the default when not root, and on macOS).
	$(NODE) demo/demo.ts

.PHONY: up
up: setup demo-tools ## Start the demo environment and leave it running (PROMETHEUS=1 adds Prometheus with the alert rules; BREAKWATER_REACH=routes|port-forward as for make demo).
	PROMETHEUS="$(PROMETHEUS)" $(NODE) demo/up.ts

.PHONY: down
down: setup ## Stop everything `make up` (or an interrupted `make demo`) started, its port-forwards too.
	$(NODE) demo/down.ts

##@ Benchmarks (results in bench/results/)

.PHONY: bench
bench: bench-guard bench-runtime bench-operator bench-image bench-global bench-sidecar bench-durable bench-memory ## Run every benchmark.

.PHONY: bench-guard
bench-guard: setup ## Guard overhead vs a bare await, cockatiel and opossum, in one run.
	$(NODE) --expose-gc bench/guard.ts

.PHONY: bench-runtime
bench-runtime: setup ## Runtime throughput and added latency vs a bare node:http proxy to the same simulator; budgets' CPU per call; what each store shape (standalone, Sentinel, Cluster) and acknowledge setting costs a call against standalone Primary (14 redis processes; about 3.5 min of the run; `node bench/runtime.ts --only stores` alone).
	$(NODE) bench/runtime.ts

.PHONY: bench-memory
bench-memory: setup build ## Idle RSS and heap of the runtime (--policy, --manifests, and built as the image runs it) vs a bare node:http server; what each package it loads adds, what each start-up stage holds, its code's heap by package.
	$(NODE) bench/memory.ts --built

.PHONY: bench-memory-soak
bench-memory-soak: setup tools ## 10 min at c64 (budgets per client key over 2,000 keys, cache-affinity pins, durable runs): RSS end vs idle (goal ≤ 2x), heap retained after gc vs the documented bounds; SOAK_ARGS='--minutes 2 --concurrency 16' for a short run, '--calls 100000' to keep on until that many calls are answered. Not in `make bench`.
	$(NODE) bench/memory/soak.ts $(SOAK_ARGS)

.PHONY: bench-durable
bench-durable: setup tools ## 20 SIGKILL trials of a durable run on kind: pod force-deleted mid-run, run again with its id; effects per tool, runs lost, time to resume.
	$(NODE) bench/durable/killTrials.ts

.PHONY: bench-image
bench-image: setup tools ## Image size, podman run → /health/ready, idle RSS of the runtime and the operator in their containers.
	$(NODE) bench/image.ts

.PHONY: bench-global
bench-global: setup tools ## Rate limits across 3 replicas: each replica's share vs the store (exact counters in Redis), added latency, fallback wait; and what a budget adds to a call.
	$(NODE) bench/global.ts

.PHONY: bench-operator
bench-operator: setup tools ## Policy reload, trip-to-status and 1000-agent convergence on kind, beside a bare client writing the same objects (the floor).
	$(NODE) bench/operator.ts

.PHONY: bench-sidecar
bench-sidecar: setup tools ## A team's agent calling the simulator directly vs through the runtime as its native sidecar, on kind.
	test/kind/e2e.sh $(NODE) bench/sidecar.ts

##@ Packaging

# The image the chart installs by default: ghcr.io/breakwater-dev/breakwater:<package.json version>.
IMAGE ?= ghcr.io/breakwater-dev/breakwater:$(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' package.json)

.PHONY: helm
helm: ## Build (once) and cache helm from its Go module; prints its path.
	@tools/cluster/build-helm.sh

.PHONY: chart-sync
chart-sync: ## Copy the CRDs, the alert rules, the RBAC rules and the admission policy into charts/breakwater.
	test/chart/sync-chart-files.sh

.PHONY: chart-test
chart-test: setup ## Lint and render the chart, and dry-run every render (and config/default) on the cluster of KUBECONFIG (default kind's, make kind-up).
	$(NODE) test/chart/chartTest.ts

.PHONY: image
image: ## Build the image (four entrypoints) as IMAGE: docker when `docker info` works, else podman FROM bases made from packages (CONTAINER_TOOL=, IMAGE_BASES=upstream|local choose).
	@scripts/image/build-image.sh $(IMAGE)

.PHONY: e2e-kind
e2e-kind: setup tools ## Kind cluster (Docker or podman; the node image built here unless KIND_NODE_IMAGE), image, chart, the end-to-end suite, then the cluster down and the host checked. Hold /tmp/bw-cluster.lock.
	test/kind/e2e.sh

.PHONY: kind-node-smoke
kind-node-smoke: tools ## Boot a Debian 12 kind-style node under podman (systemd, containerd, runc, CNI) and start a container and a CRI pod in it; root on Linux.
	tools/kindNode/smoke.sh

.PHONY: kind-node-image
kind-node-image: tools ## Build (once, cached by its inputs' hash) the kind node image localhost/breakwater/kind-node from Debian packages and the Go-built Kubernetes, no registry; root on Linux.
	tools/kindNode/build-node-image.sh

.PHONY: kind-up
kind-up: tools ## A one-node kind cluster on that image (podman or docker), Breakwater's image loaded; kubeconfig at .breakwater/kind/breakwater/kubeconfig. Hold /tmp/bw-cluster.lock until kind-down.
	tools/kindNode/kind-cluster.sh up
	@scripts/image/build-image.sh $(IMAGE)
	tools/kindNode/kind-cluster.sh load $(IMAGE)

.PHONY: kind-down
kind-down: ## Delete the kind cluster of make kind-up and put back what it changed on the host (then check that).
	tools/kindNode/kind-cluster.sh down

##@ Cluster

.PHONY: cluster-binaries
cluster-binaries: ## Build (once) and cache the Kubernetes binaries kind's node image is made of, and kubectl.
	tools/cluster/build-binaries.sh

.PHONY: install-crds
install-crds: setup ## Install the CRDs into the cluster of KUBECONFIG (default kind's, make kind-up).
	@$(KUBECTL) --kubeconfig "$${KUBECONFIG:-$(KUBECONFIG_KIND)}" apply --server-side -f crds/

.PHONY: run-operator
run-operator: setup ## Run the operator from the checkout against KUBECONFIG (default kind's, make kind-up).
	$(NODE) operator/src/main.ts --kubeconfig "$${KUBECONFIG:-$(KUBECONFIG_KIND)}"

.PHONY: plugin
plugin: setup ## Put kubectl-breakwater (this checkout's) in .breakwater/bin: add that to PATH for `kubectl breakwater`.
	@mkdir -p .breakwater/bin
	@printf '#!/bin/sh\nexec "%s" --no-warnings=ExperimentalWarning "%s" "$$@"\n' \
	  "$$(command -v node)" "$(CURDIR)/plugin/src/main.ts" > .breakwater/bin/kubectl-breakwater
	@chmod 755 .breakwater/bin/kubectl-breakwater
	@echo "wrote .breakwater/bin/kubectl-breakwater; now: export PATH=$(CURDIR)/.breakwater/bin:\$$PATH && kubectl breakwater --help"

.PHONY: clean
clean: ## Remove build output (keeps the binary cache and node_modules).
	rm -rf dist coverage

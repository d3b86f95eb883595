# Bulwark: `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

STACK ?= local
BULWARK_TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/bulwark/tools
export BULWARK_TOOLS_DIR
export PATH := $(BULWARK_TOOLS_DIR)/bin:$(PATH)
BULWARK := go run ./cmd/bulwark

# A kubeconfig given on the command line (make up KUBECONFIG=...) targets that
# cluster; otherwise the local cluster is started. One merely exported in the
# shell is not taken, so a stray KUBECONFIG never points `make up` at prod.
ifeq ($(origin KUBECONFIG),command line)
TARGET := -kubeconfig $(KUBECONFIG)
else
TARGET :=
endif

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Build the pinned toolchain into $(BULWARK_TOOLS_DIR) (first run: about 20 minutes).
	@bash hack/tools.sh

.PHONY: cluster-up
cluster-up: tools ## Start the local cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok).
	@$(BULWARK) cluster up

.PHONY: cluster-down
cluster-down: ## Stop the local cluster (its data stays in .state/cluster).
	@$(BULWARK) cluster down

.PHONY: up
up: tools ## pulumi up of STACK (default local) on the local cluster or KUBECONFIG=...; ends with a summary.
	@$(BULWARK) up -stack $(STACK) $(TARGET)

.PHONY: preview
preview: tools ## pulumi preview of STACK.
	@$(BULWARK) preview -stack $(STACK) $(TARGET)

.PHONY: destroy
destroy: tools ## pulumi destroy of STACK.
	@$(BULWARK) destroy -stack $(STACK) $(TARGET)

.PHONY: policy-report
policy-report: ## Who may talk to whom in STACK, from the compiled policies; BASE=<git ref> prints the change against it.
	@$(BULWARK) policy-report -stack $(STACK) $(if $(BASE),-base $(BASE))

.PHONY: data-sql
data-sql: ## The psql script that provisions STACK's data model (databases, owner roles, management role) on an existing PostgreSQL.
	@$(BULWARK) data-sql -stack $(STACK)

.PHONY: restore-drill
restore-drill: tools ## Base-back up the local cluster's PostgreSQL, restore it on a second instance and compare the data.
	@$(BULWARK) restore-drill

.PHONY: test
test: test-unit test-integration ## Unit tier, then the integration tier (stack check, policy diff, services end to end).

.PHONY: test-unit
test-unit: ## Unit tier: no tools, no cluster.
	go test ./...

.PHONY: test-integration
test-integration: tools ## Integration tier: stack check (both layers of ci up with cert-manager, OpenBao, External Secrets -> terratest, kube-score, CA chain, Vault least privilege, secret sync -> no-change preview -> destroy), policy-report diff, the local cluster's controllers, services against real PostgreSQL, Redis, Hydra and OpenBao.
	BULWARK_INTEGRATION=1 go test -count=1 -timeout 45m -v ./tests/... ./internal/harness/... ./services/... ./infra/vaultlayer/... ./infra/observability/...

.PHONY: test-stack
test-stack: tools ## Only the terratest stack check.
	BULWARK_INTEGRATION=1 go test -count=1 -timeout 30m -v ./tests/stack/

.PHONY: bench
bench: tools ## Benchmarks as ratios: no-change preview vs raw Pulumi, middleware chain vs bare handler, L1 hit, JWT verify per algorithm, order's open-breaker answer.
	BULWARK_BENCH=1 go test -count=1 -timeout 30m -run TestNoChangePreviewAgainstRawPulumi -v ./tests/bench/ | grep '^BENCH'
	BULWARK_INTEGRATION=1 go test -run '^$$' -bench . -benchmem ./services/... | go run ./hack/benchratio
	@# Under load, at prod's trace sampling (5 %, as infra/config sets it), then with every span sampled (local).
	BULWARK_LOAD=1 OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.05 go test -count=1 -run TestChainUnderLoad -v ./services/internal/platform/app/ | grep '^LOAD'
	BULWARK_LOAD=1 go test -count=1 -run TestChainUnderLoad -v ./services/internal/platform/app/ | grep '^LOAD' 

.PHONY: lint
lint: ## gofmt and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go vet ./...
	cd tools/cluster && go vet ./...

.PHONY: kind-up
kind-up: ## Create a kind cluster from hack/kind.yaml (needs Docker and kind), then: make up KUBECONFIG=.state/kind-kubeconfig
	mkdir -p .state && kind create cluster --name bulwark --config hack/kind.yaml --kubeconfig .state/kind-kubeconfig

.PHONY: kind-down
kind-down: ## Delete the kind cluster.
	kind delete cluster --name bulwark --kubeconfig .state/kind-kubeconfig

.PHONY: clean-state
clean-state: cluster-down ## Stop the local cluster and delete its data and the local Pulumi backend.
	rm -rf .state

# dirsync developer tasks. `make help` lists them.

SHELL := /bin/bash
GO ?= go
# buf lives in its own tool module so its dependencies stay out of go.mod.
BUF := $(GO) tool -modfile=.ci/tools/go.mod buf
TOOLS := $(CURDIR)/bin/tools
GRPCURL_VERSION := v1.9.4
FUZZTIME ?= 10s
# Minimizing each new interesting input may take 60 s by default, which
# left FuzzUpload at 22 executions in 20 s; 2 s let it make 84,000.
FUZZMINIMIZETIME ?= 2s
BENCHTIME ?= 1x

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
# The client starts only once this server has said it listens, in its own
# log: a port held by another program fails the demo with the server's
# message instead of leaving the client retrying against a stranger.
demo: build ## Run a server on ./dirsync_to and a client watching ./dirsync_from (Ctrl-C stops both).
	@mkdir -p dirsync_from dirsync_to
	@log=$$(mktemp); \
	./bin/dirsync-server --root dirsync_to 2>$$log & server=$$!; \
	trap 'kill $$server $$tail 2>/dev/null; wait $$server 2>/dev/null; rm -f $$log' EXIT; \
	for i in $$(seq 600); do \
		grep -q 'msg=listening' $$log && break; \
		if ! kill -0 $$server 2>/dev/null; then cat $$log >&2; echo "demo: dirsync-server did not start" >&2; exit 1; fi; \
		sleep 0.05; \
	done; \
	if ! grep -q 'msg=listening' $$log; then cat $$log >&2; echo "demo: dirsync-server did not start listening in 30 s" >&2; exit 1; fi; \
	tail -n +1 -f $$log >&2 & tail=$$!; \
	./bin/dirsync-client --dir dirsync_from

.PHONY: generate
generate: ## Regenerate gen/ from proto/ with buf and the pinned local plugins.
	$(BUF) generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail when gen/ differs from what buf generate writes.
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is stale: run 'make generate' and commit the result" >&2; \
		git status --porcelain -- gen >&2; exit 1; fi

.PHONY: lint
lint: ## buf lint, buf format -d, go vet and gofmt.
	$(BUF) lint
	$(BUF) format -d --exit-code
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
		if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi

.PHONY: build
build: ## Build dirsync-server and dirsync-client into bin/.
	$(GO) build -o bin/ ./server/cmd/dirsync-server ./client/cmd/dirsync-client

.PHONY: tools
tools: $(TOOLS)/grpcurl $(TOOLS)/buf ## Install grpcurl and buf into bin/tools for the end-to-end tests.

$(TOOLS)/grpcurl:
	GOBIN=$(TOOLS) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

$(TOOLS)/buf: .ci/tools/go.mod
	$(GO) build -modfile=.ci/tools/go.mod -o $(TOOLS)/buf github.com/bufbuild/buf/cmd/buf

.PHONY: test
# -count=1: the end-to-end tests build the binaries themselves, so the test
# cache cannot see that a change to client/ or server/ concerns them.
test: tools ## Run every test with the race detector, never from the test cache.
	DIRSYNC_TOOLS=$(TOOLS) $(GO) test -race -count=1 -timeout 20m ./...

.PHONY: bench
bench: ## Run the Go benchmarks (BENCHTIME=1x by default).
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

.PHONY: bench-deps
bench-deps: ## Install rsync (Debian apt) for the end-to-end benchmark when missing.
	@command -v rsync >/dev/null || { \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq rsync; }

.PHONY: bench-e2e
bench-e2e: bench-deps ## Benchmark dirsync against rsync end to end into bench-out/ (~15 min).
	$(GO) run ./client/bench -out bench-out

.PHONY: bench-e2e-quick
bench-e2e-quick: bench-deps ## The end-to-end benchmark on scaled-down datasets, for CI (<2 min).
	$(GO) run ./client/bench -out bench-out -quick

.PHONY: scale
scale: ## Sync and watch a 200,000-file tree with the real binaries; logs the figures (minutes).
	DIRSYNC_SCALE=1 $(GO) test -run '^TestScale$$' -v -count=1 -timeout 60m ./client/e2e

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 10s) each, minimizing new inputs for FUZZMINIMIZETIME (2s) at most.
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
		done; \
	done

.PHONY: clean
clean: ## Remove build outputs.
	rm -rf bin

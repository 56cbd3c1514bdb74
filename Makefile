# faultline — build and test entry points. `make test` is what CI runs.
SHELL := /bin/bash
GO ?= go
PKG := github.com/faultline-dev/faultline
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X $(PKG)/internal/version.version=$(VERSION) \
           -X $(PKG)/internal/version.commit=$(COMMIT) \
           -X $(PKG)/internal/version.date=$(DATE)
TOOLS := $(HOME)/.cache/faultline/bin
FUZZTIME ?= 15s

.PHONY: all build demo test vet staticcheck unit fuzz tools test-realnode docs bench clean

all: build

## build: the faultline binary with version information, in bin/
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/faultline ./cmd/faultline

## demo: the README's main job — every seed scenario against the demo AI
## recommendation system (demo/), a summary table and demo-report.html.
## A scenario that fails its verdict is a result (exit 0); DEMO_FLAGS passes
## flags through, e.g. DEMO_FLAGS="--full" or DEMO_FLAGS="--scenario pod-kill".
demo:
	$(GO) run ./cmd/faultline demo $(DEMO_FLAGS)

## test: everything CI checks — vet, staticcheck, race-enabled tests, a short fuzz run
test: tools vet staticcheck unit fuzz

tools:
	@hack/install-tools.sh
	@hack/install-deps.sh
	@hack/install-browser.sh --node-only
	@hack/kube-testenv.sh build
	@hack/realnode.sh build

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

staticcheck:
	$(TOOLS)/staticcheck ./...

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecodeValidate -fuzztime=$(FUZZTIME) ./internal/manifest

## test-realnode: only the real-node tier (root; part of `make test` in CI): a
## one-node cluster with a real kubelet, containerd and runc (hack/realnode.sh),
## the demo's pod-kill through port-forward and a pod-failure on it; see
## docs/realnode.md.
test-realnode: tools
	FAULTLINE_REALNODE=1 $(GO) test -race -count=1 -timeout 30m -v ./test/realnode/

## docs: regenerate docs/reference.md from the API types
docs:
	$(GO) generate ./api/...
	$(GO) run ./cmd/faultline docs reference > docs/reference.md

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin

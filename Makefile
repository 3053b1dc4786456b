# setbridge: `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/setbridge
# G.722 is checked bit-exact against spandsp when its headers are installed.
TEST_TAGS := $(shell pkg-config --exists spandsp 2>/dev/null && echo spandsp)
PKGS := ./...

.PHONY: help build run test test-short bench lint fuzz generate clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/setbridge
	$(GO) build -o $(BIN) ./cmd/setbridge

run: build ## run the server on its embedded defaults (SIP 5060 UDP/TCP, HTTP 8080)
	./$(BIN) serve

test: build ## run every test, integration tests with real peers included
	SETBRIDGE_BIN=$(CURDIR)/$(BIN) $(GO) test -tags '$(TEST_TAGS)' -count=1 -timeout 25m $(PKGS)

test-short: ## unit tests only
	$(GO) test -short -count=1 $(PKGS)

bench: build ## benchmarks: codecs, mixer, fabric, SIP load with sipp and fabric load (bench/)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	SETBRIDGE_BIN=$(CURDIR)/$(BIN) ./bench/sip_load.sh
	SETBRIDGE_BIN=$(CURDIR)/$(BIN) ./bench/fabric_load.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$t $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$t || exit 1; \
	  done; done

generate: ## regenerate committed generated files (prompts need espeak-ng and sox)
	$(GO) generate ./...

clean: ## remove build output
	rm -rf bin

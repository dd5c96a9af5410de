# The one test command is `make test` (README, .ci/run). It brings up what it needs.
GO ?= go
# A count, not a duration: a -fuzztime duration hits a race in Go 1.26's fuzz
# coordinator (golang/go#75804) that fails a clean run with "context deadline exceeded".
FUZZTIME ?= 50000x
export TANDEM_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TANDEM_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run build test services vet gotest fuzz sdk e2e bench

# Builds first, so that a cold first build (modules to download, everything to
# compile: a few minutes on a small machine) is announced instead of a silent wait.
run: build
	./bin/tandem

build:
	@echo "make: building bin/tandem (the first build downloads the Go modules and compiles everything: a few minutes on a small machine; later builds take seconds)"
	$(GO) build -o bin/tandem ./cmd/tandem

test: services vet gotest fuzz sdk e2e
	@echo "make test: all suites passed"

services:
	@./scripts/ensure-services.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

gotest:
	$(GO) test -race -count=1 -timeout 15m ./...

# Each fuzz target runs briefly against its committed seed corpus plus new inputs.
fuzz:
	@./scripts/fuzz-smoke.sh $(FUZZTIME)

sdk:
	@if [ -f client-sdk/package.json ]; then cd client-sdk && npm ci --no-audit --no-fund && npm test; fi

# Real tandem processes on Postgres and Redis (e2e/); installs its Debian tools first.
e2e:
	@if ls e2e/*_test.go >/dev/null 2>&1; then ./scripts/ensure-e2e-tools.sh && $(GO) test -count=1 -timeout 10m -tags e2e ./e2e/...; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./ot/ ./store/
